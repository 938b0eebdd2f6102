import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import {
  BlobChecksumError,
  BlobNotFoundError,
  type BlobInfo,
  type BlobStore,
} from '../../src/ports/blob-store.js';

export const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');

export async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

async function listAll(store: BlobStore, prefix: string): Promise<BlobInfo[]> {
  const out: BlobInfo[] = [];
  for await (const info of store.list(prefix)) out.push(info);
  return out;
}

/** A source that yields `data` in 64 KiB pieces, then fails: a broken upload. */
function failingSource(data: Buffer): Readable {
  return Readable.from(
    (async function* () {
      for (let at = 0; at < data.length; at += 65536)
        yield await Promise.resolve(data.subarray(at, at + 65536));
      throw new Error('the source broke');
    })(),
  );
}

/**
 * The BlobStore contract (src/ports/blob-store.ts), run against every driver. `partSize` is the
 * size above which the driver sends parts: the large-object test goes over it.
 */
export function blobStoreContract(name: string, make: () => Promise<BlobStore>, partSize: number): void {
  describe(`BlobStore contract: ${name}`, () => {
    let store: BlobStore;
    let n = 0;
    const key = (leaf = 'x.bin') => `t${++n}/${leaf}`;
    before(async () => {
      store = await make();
    });
    after(() => store.close());

    it('put streams the bytes in and returns their size and sha256; get and head give them back', async () => {
      const data = randomBytes(300_000);
      const k = key();
      const stored = await store.put(k, Readable.from([data.subarray(0, 1000), data.subarray(1000)]));
      assert.deepEqual(stored, { key: k, size: data.length, sha256: sha(data) });
      assert.ok((await readAll(await store.get(k))).equals(data));
      assert.deepEqual(await store.head(k), { key: k, size: data.length });
    });

    it('stores an empty object', async () => {
      const k = key();
      assert.equal((await store.put(k, Readable.from([]))).size, 0);
      assert.equal((await readAll(await store.get(k))).length, 0);
      assert.deepEqual(await store.head(k), { key: k, size: 0 });
    });

    it('get reads ranges [start, end): inside, to the end, past the end, empty', async () => {
      const data = randomBytes(10_000);
      const k = key();
      await store.put(k, Readable.from([data]));
      const range = async (start: number, end?: number) =>
        readAll(await store.get(k, end === undefined ? { start } : { start, end }));
      assert.ok((await range(100, 200)).equals(data.subarray(100, 200)));
      assert.ok((await range(9_000)).equals(data.subarray(9_000)));
      assert.ok((await range(9_990, 20_000)).equals(data.subarray(9_990)));
      assert.equal((await range(10_000)).length, 0);
      assert.equal((await range(50_000, 60_000)).length, 0);
      assert.equal((await range(5, 5)).length, 0);
      assert.ok((await range(0, 1)).equals(data.subarray(0, 1)));
    });

    it('a missing object: get throws BlobNotFoundError, head is undefined, delete is a no-op', async () => {
      const k = key();
      await assert.rejects(store.get(k), BlobNotFoundError);
      await assert.rejects(store.get(k, { start: 10, end: 20 }), BlobNotFoundError);
      assert.equal(await store.head(k), undefined);
      await store.delete(k);
    });

    it('a second put replaces the object whole; delete removes it', async () => {
      const k = key();
      await store.put(k, Readable.from([Buffer.from('first version, longer')]));
      await store.put(k, Readable.from([Buffer.from('second')]));
      assert.equal((await readAll(await store.get(k))).toString(), 'second');
      await store.delete(k);
      await store.delete(k);
      await assert.rejects(store.get(k), BlobNotFoundError);
    });

    it(`a large object (over the ${partSize / 1048576} MiB part size) goes up in parts, whole`, async () => {
      const data = randomBytes(partSize * 2 + 12345);
      const k = key('large.bin');
      const stored = await store.put(k, Readable.from(chunks(data, 1 << 20)));
      assert.equal(stored.sha256, sha(data));
      assert.equal(stored.size, data.length);
      assert.equal(sha(await readAll(await store.get(k))), sha(data));
      const tail = await readAll(await store.get(k, { start: partSize - 10, end: partSize + 10 }));
      assert.ok(tail.equals(data.subarray(partSize - 10, partSize + 10)));
    });

    it('a sha256 mismatch throws BlobChecksumError and leaves the previous object', async () => {
      const k = key();
      await store.put(k, Readable.from([Buffer.from('kept')]));
      const wrong = sha(Buffer.from('something else'));
      await assert.rejects(
        store.put(k, Readable.from([Buffer.from('replacement')]), { sha256: wrong }),
        (e) => {
          assert.ok(e instanceof BlobChecksumError, String(e));
          return true;
        },
      );
      assert.equal((await readAll(await store.get(k))).toString(), 'kept');
      const right = Buffer.from('replacement');
      assert.equal((await store.put(k, Readable.from([right]), { sha256: sha(right) })).sha256, sha(right));
    });

    it('a source that fails midway stores nothing: small and multipart', async () => {
      for (const size of [100_000, partSize + 100_000]) {
        const k = key();
        await store.put(k, Readable.from([Buffer.from('old')]));
        await assert.rejects(store.put(k, failingSource(randomBytes(size))), /the source broke/);
        assert.equal((await readAll(await store.get(k))).toString(), 'old');
        const fresh = key();
        await assert.rejects(store.put(fresh, failingSource(randomBytes(size))), /the source broke/);
        assert.equal(await store.head(fresh), undefined);
      }
    });

    it('list yields the objects under a prefix, sorted by key, with sizes', async () => {
      const base = `list${++n}`;
      for (const leaf of ['b/2.txt', 'a.txt', 'b/1.txt', 'b/c/3.txt', 'bb.txt'])
        await store.put(`${base}/${leaf}`, Readable.from([Buffer.from(leaf)]));
      await store.put(`${base}x/other.txt`, Readable.from([Buffer.from('no')]));
      const keys = async (prefix: string) => (await listAll(store, prefix)).map((i) => i.key);
      assert.deepEqual(await keys(`${base}/`), [
        `${base}/a.txt`,
        `${base}/b/1.txt`,
        `${base}/b/2.txt`,
        `${base}/b/c/3.txt`,
        `${base}/bb.txt`,
      ]);
      assert.deepEqual(await keys(`${base}/b/`), [`${base}/b/1.txt`, `${base}/b/2.txt`, `${base}/b/c/3.txt`]);
      assert.deepEqual(await keys(`${base}/b`), [
        `${base}/b/1.txt`,
        `${base}/b/2.txt`,
        `${base}/b/c/3.txt`,
        `${base}/bb.txt`,
      ]);
      assert.deepEqual(await keys(`${base}/none/`), []);
      assert.deepEqual((await listAll(store, `${base}/a.txt`))[0], { key: `${base}/a.txt`, size: 5 });
      assert.ok((await keys('')).includes(`${base}x/other.txt`));
    });

    it('keys keep the names cubes wrote (spaces, unicode); bad keys are refused with a TypeError', async () => {
      const k = key('dir with space/naïve файл.txt');
      await store.put(k, Readable.from([Buffer.from('ok')]));
      assert.equal((await readAll(await store.get(k))).toString(), 'ok');
      assert.deepEqual(
        (await listAll(store, k.split('/')[0] + '/')).map((i) => i.key),
        [k],
      );
      for (const bad of ['', '/abs', 'a//b', '../up', 'a/../b', 'a/./b', 'tab\there', '.blob-tmp/x', 'a/'])
        await assert.rejects(store.put(bad, Readable.from([])), TypeError, bad);
    });

    it('url and keyOf name an object as a URL and back; a URL elsewhere is no key', () => {
      const k = key('named.txt');
      assert.equal(store.keyOf(store.url(k)), k);
      assert.equal(store.keyOf('file:///etc/passwd'), undefined);
      assert.equal(store.keyOf('s3://another-bucket/x'), undefined);
      assert.equal(store.keyOf('https://example.com/x'), undefined);
    });

    it('downloadUrl, where the driver has one, serves the bytes without credentials', async () => {
      const k = key('download.txt');
      await store.put(k, Readable.from([Buffer.from('presigned bytes')]));
      const url = await store.downloadUrl(k, { expiresInS: 60, filename: 'download.txt' });
      if (store.kind === 'file') {
        assert.equal(url, undefined);
        return;
      }
      assert.ok(url);
      const response = await fetch(url);
      assert.equal(response.status, 200);
      assert.equal(await response.text(), 'presigned bytes');
      assert.match(response.headers.get('content-disposition') ?? '', /download\.txt/);
      // A temporary SigV4 URL. s3rver verifies neither V4 signatures nor their expiry (and lets
      // anyone read), so a tampered or expired link cannot be shown refused here.
      const signed = new URL(url);
      assert.equal(signed.searchParams.get('X-Amz-Expires'), '60');
      assert.match(signed.searchParams.get('X-Amz-Signature') ?? '', /^[0-9a-f]{64}$/);
    });
  });
}

function* chunks(data: Buffer, size: number): Generator<Buffer> {
  for (let at = 0; at < data.length; at += size) yield data.subarray(at, at + size);
}
