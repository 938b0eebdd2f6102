import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { describe, it } from 'node:test';
import { FileBlobStore } from '../../src/blob/file-blob-store.js';
import { openBlobStore } from '../../src/blob/open-blob-store.js';
import { tempDir } from '../helpers/repo.js';
import { blobStoreContract } from './blob-store-contract.js';

blobStoreContract('filesystem', () => Promise.resolve(new FileBlobStore(tempDir())), 5 * 1024 * 1024);

describe('FileBlobStore', () => {
  it('makes directories 0700 and files 0600, and leaves no temporary file behind', async () => {
    const root = tempDir();
    const store = new FileBlobStore(root);
    await store.put('a/b/c.txt', Readable.from([Buffer.from('x')]));
    await assert.rejects(
      store.put('a/b/d.txt', Readable.from([Buffer.from('x')]), { sha256: '0'.repeat(64) }),
    );
    assert.equal(statSync(join(root, 'a')).mode & 0o777, 0o700);
    assert.equal(statSync(join(root, 'a/b')).mode & 0o777, 0o700);
    assert.equal(statSync(join(root, 'a/b/c.txt')).mode & 0o777, 0o600);
    assert.deepEqual(readdirSync(join(root, '.blob-tmp')), []);
    assert.deepEqual(readdirSync(join(root, 'a/b')), ['c.txt']);
  });

  it('--blob-store file:///path opens that directory; unset, the default directory', async () => {
    const root = tempDir();
    const named = await openBlobStore(pathToFileURL(root).href, '/nowhere', {});
    assert.ok(named instanceof FileBlobStore);
    assert.equal(named.root, root);
    const fallback = await openBlobStore(undefined, root, {});
    assert.ok(fallback instanceof FileBlobStore && fallback.root === root);
  });

  it('a wrong --blob-store says what is accepted', async () => {
    for (const bad of [
      'ftp://host/x',
      'not a url',
      's3:///prefix',
      's3://b/p?colour=red',
      's3://b/p?part_size_mb=1',
    ])
      await assert.rejects(openBlobStore(bad, '/tmp', {}), /file:\/\/|s3:\/\/|part_size_mb|unknown/, bad);
  });
});
