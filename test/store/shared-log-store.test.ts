import { join } from 'node:path';
import { FileBlobStore } from '../../src/blob/file-blob-store.js';
import { openPostgresDb } from '../../src/store/postgres.js';
import { openSqliteDb } from '../../src/store/sqlite.js';
import { tempPostgresUrl } from '../helpers/postgres.js';
import { tempDir } from '../helpers/repo.js';
import { S3Server } from '../helpers/s3.js';
import { sharedLogStoreContract } from './shared-log-store-contract.js';

const s3 = await S3Server.start();

sharedLogStoreContract('SQLite, file blobs', async () => {
  const file = join(tempDir(), 'conveyor.db');
  const db = await openSqliteDb(file);
  return {
    db,
    second: () => openSqliteDb(file),
    blobs: new FileBlobStore(tempDir()),
    close: () => db.destroy(),
  };
});

sharedLogStoreContract('PostgreSQL, file blobs', async () => {
  const url = await tempPostgresUrl();
  const db = await openPostgresDb(url);
  return {
    db,
    second: () => openPostgresDb(url),
    blobs: new FileBlobStore(tempDir()),
    close: () => db.destroy(),
  };
});

sharedLogStoreContract('PostgreSQL, S3 blobs (s3rver)', async () => {
  const url = await tempPostgresUrl();
  const db = await openPostgresDb(url);
  const blobs = s3.store(`logs-contract-${process.pid}/`);
  return {
    db,
    second: () => openPostgresDb(url),
    blobs,
    close: async () => {
      blobs.close();
      await db.destroy();
    },
  };
});
