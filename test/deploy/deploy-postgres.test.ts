import { tempPostgresUrl } from '../helpers/postgres.js';
import { deploySuite } from './deploy-suite.js';

deploySuite('PostgreSQL', tempPostgresUrl);
