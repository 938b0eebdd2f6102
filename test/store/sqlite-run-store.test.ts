import { join } from 'node:path';
import { openSqliteRunStore } from '../../src/store/sqlite.js';
import { tempDir } from '../helpers/repo.js';
import { runStoreContract } from './run-store-contract.js';

runStoreContract('SQLite file', () => openSqliteRunStore(join(tempDir(), 'nested', 'conveyor.db')));
runStoreContract('SQLite in memory', () => openSqliteRunStore(':memory:'));
