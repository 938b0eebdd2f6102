import { join } from 'node:path';
import { openSqliteDb, openSqliteRunStore } from '../../src/store/sqlite.js';
import { SqlDirectoryStore } from '../../src/store/sql-directory-store.js';
import { tempDir } from '../helpers/repo.js';
import { directoryStoreContract } from './directory-store-contract.js';
import { runStoreContract } from './run-store-contract.js';

runStoreContract('SQLite file', () => openSqliteRunStore(join(tempDir(), 'nested', 'conveyor.db')));
runStoreContract('SQLite in memory', () => openSqliteRunStore(':memory:'));
directoryStoreContract('SQLite file', async () => {
  const db = await openSqliteDb(join(tempDir(), 'conveyor.db'));
  return { store: new SqlDirectoryStore(db), close: () => db.destroy() };
});
