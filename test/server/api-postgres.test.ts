import { tempPostgresUrl } from '../helpers/postgres.js';
import { apiSuite } from './api-suite.js';

apiSuite('PostgreSQL', tempPostgresUrl);
