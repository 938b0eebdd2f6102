import { openPostgresDb } from '../../src/store/postgres.js';
import { SqlDirectoryStore } from '../../src/store/sql-directory-store.js';
import { SqlRunStore } from '../../src/store/sql-run-store.js';
import { tempPostgresUrl } from '../helpers/postgres.js';
import { directoryStoreContract } from './directory-store-contract.js';
import { runStoreContract } from './run-store-contract.js';

runStoreContract('PostgreSQL', async () => new SqlRunStore(await openPostgresDb(await tempPostgresUrl())));
directoryStoreContract('PostgreSQL', async () => {
  const db = await openPostgresDb(await tempPostgresUrl());
  return { store: new SqlDirectoryStore(db), close: () => db.destroy() };
});
