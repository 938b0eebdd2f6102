import { deploySuite } from './deploy-suite.js';

deploySuite('SQLite', () => Promise.resolve(undefined));
