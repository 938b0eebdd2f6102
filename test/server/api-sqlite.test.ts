import { apiSuite } from './api-suite.js';

apiSuite('SQLite', () => Promise.resolve(undefined));
