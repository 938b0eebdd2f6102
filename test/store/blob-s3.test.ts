import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { openBlobStore } from '../../src/blob/open-blob-store.js';
import { S3BlobStore } from '../../src/blob/s3-blob-store.js';
import { BlobUnavailableError } from '../../src/ports/blob-store.js';
import { S3Server, S3_ENV } from '../helpers/s3.js';
import { blobStoreContract, readAll } from './blob-store-contract.js';

const PART = 5 * 1024 * 1024;
const server = await S3Server.start();

blobStoreContract('S3 (s3rver)', () => Promise.resolve(server.store('contract/', PART)), PART);

describe('S3BlobStore', () => {
  it('--blob-store s3://bucket/prefix?endpoint=…&force_path_style=true reads AWS credentials from the environment', async () => {
    const store = await openBlobStore(server.url('from-url'), '/unused', S3_ENV);
    assert.ok(store instanceof S3BlobStore);
    try {
      await store.put('a.txt', Readable.from([Buffer.from('via url')]));
      assert.equal(store.url('a.txt'), 's3://conveyor/from-url/a.txt');
      assert.equal((await readAll(await server.store('from-url/').get('a.txt'))).toString(), 'via url');
    } finally {
      store.close();
    }
  });

  it('an unreachable server is BlobUnavailableError (callers retry or answer 503)', async () => {
    const store = server.store('down/');
    await server.stop();
    try {
      await assert.rejects(store.put('x', Readable.from([Buffer.from('x')])), BlobUnavailableError);
      await assert.rejects(store.get('x'), BlobUnavailableError);
      await assert.rejects(store.head('x'), BlobUnavailableError);
    } finally {
      await server.start();
    }
    await store.put('x', Readable.from([Buffer.from('back')]));
    assert.equal((await readAll(await store.get('x'))).toString(), 'back');
    store.close();
  });
});
