import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Kysely } from 'kysely';
import { OffsetLogAppender } from '../../src/app/task-logs.js';
import { FileLogStore } from '../../src/logs/file-log-store.js';
import { SharedLogStore, objectKeys } from '../../src/logs/shared-log-store.js';
import type { BlobStore } from '../../src/ports/blob-store.js';
import type { LogChunkStore } from '../../src/ports/log-chunk-store.js';
import type { LogStore } from '../../src/ports/log-store.js';
import type { Database } from '../../src/store/schema.js';
import { SqlLogChunkStore } from '../../src/store/sql-log-chunk-store.js';
import { tempDir } from '../helpers/repo.js';

/** One database and blob store per suite; `second` opens another connection (a second replica). */
export interface SharedLogFixture {
  db: Kysely<Database>;
  second(): Promise<Kysely<Database>>;
  blobs: BlobStore;
  close(): Promise<void>;
}

let ids = 0;
const newRun = (): string => `run-${process.pid}-${++ids}`;

/** Everything a reader can ask of a log, to compare the same log before and after compaction. */
async function snapshot(store: LogStore, run: string, cube: string, final = true): Promise<unknown> {
  const size = await store.size(run, cube);
  const pages = [];
  for (let page = 1; ; page++) {
    const got = await store.page(run, cube, page, final);
    if (!got) break;
    pages.push(got);
    if (got.last || !got.complete) break;
  }
  return {
    size,
    bytes: (await store.readBytes(run, cube, 0, size)).toString('base64'),
    lines: await store.read(run, cube),
    from7: await store.readFrom(run, cube, 7, final),
    pages,
  };
}

/** The SharedLogStore contract, on one database and blob store (docs/scaling.md "Logs"). */
export function sharedLogStoreContract(name: string, fixture: () => Promise<SharedLogFixture>): void {
  describe(`SharedLogStore on ${name}`, () => {
    let f: SharedLogFixture;
    let chunks: SqlLogChunkStore;
    let store: SharedLogStore;
    const others: Kysely<Database>[] = [];
    before(async () => {
      f = await fixture();
      chunks = new SqlLogChunkStore(f.db);
      store = new SharedLogStore({ chunks, blobs: f.blobs, flushMs: 5 });
    });
    after(async () => {
      for (const db of others) await db.destroy();
      await f.close();
    });

    it('stores writes as rows with their receive times; an unfinished line waits for the end', async () => {
      const run = newRun();
      const sink = store.open(run, 'c');
      sink.write(Buffer.from('one\ntw'), 1000);
      sink.write(Buffer.from('o\n'), 1000);
      sink.write(Buffer.from('three\nfou'), 2000);
      // Readable once `write` returned: a read waits for this process's buffered writes.
      assert.equal(await store.size(run, 'c'), 17);
      sink.note('timed out', 3000);
      await sink.stored();
      sink.close();
      assert.equal(sink.failure, undefined);
      assert.deepEqual(await store.read(run, 'c'), [
        { at: 1000, text: 'one' },
        { at: 1000, text: 'two' },
        { at: 2000, text: 'three' },
        { at: 2000, text: 'fou' },
        { at: 3000, text: '##[conveyor] timed out' },
      ]);
      const live = await store.readFrom(run, 'c', 4, false);
      assert.deepEqual(live.ends, [8, 14, 18, 41]);
      // Two rows: the writes of one millisecond share a row.
      assert.deepEqual(await chunks.marks(run, 'c', 0, 100), [
        [0, 1000],
        [8, 2000],
        [17, 3000],
      ]);
    });

    it('offset appends: a replay stores nothing twice, different bytes and gaps are refused', async () => {
      const run = newRun();
      const appender = new OffsetLogAppender(store);
      const append = (start: number, text: string) =>
        appender.append(run, 'c', 0, start, Buffer.from(text), 5);
      assert.deepEqual(await append(0, 'abc'), { ok: true, size: 3 });
      assert.deepEqual(await append(0, 'abc'), { ok: true, size: 3 });
      assert.deepEqual(await append(0, 'abcdef'), { ok: true, size: 6 });
      assert.deepEqual(await append(3, 'dXf'), { ok: false, size: 6 });
      assert.deepEqual(await append(9, 'ghi'), { ok: false, size: 6 });
      assert.equal((await store.readBytes(run, 'c', 0, 100)).toString(), 'abcdef');
      assert.deepEqual(await store.appendAt(run, 'c', 3, Buffer.from('x'), 5), { ok: false, taken: true });
    });

    it('the same chunks appended through two replicas at once are stored once', async () => {
      const db = await f.second();
      others.push(db);
      const replicaB = new SharedLogStore({ chunks: new SqlLogChunkStore(db), blobs: f.blobs });
      const run = newRun();
      // Separate appenders: no per-process queue is shared, only the database decides.
      const a = new OffsetLogAppender(store);
      const b = new OffsetLogAppender(replicaB);
      const parts = Array.from({ length: 30 }, (_, i) => `chunk ${i} ${'x'.repeat(i * 7)}\n`);
      let offset = 0;
      for (const part of parts) {
        const bytes = Buffer.from(part);
        const [one, two] = await Promise.all([
          a.append(run, 'c', 0, offset, bytes, 7),
          b.append(run, 'c', 0, offset, bytes, 7),
        ]);
        assert.deepEqual(
          [one, two],
          [
            { ok: true, size: offset + bytes.length },
            { ok: true, size: offset + bytes.length },
          ],
        );
        offset += bytes.length;
      }
      const expected = parts.join('');
      assert.equal((await replicaB.readBytes(run, 'c', 0, offset + 100)).toString(), expected);
      assert.equal((await store.readBytes(run, 'c', 0, offset + 100)).toString(), expected);
      assert.equal((await chunks.marks(run, 'c', 0, offset)).length, parts.length);
    });

    it('pages a log of several pages the same before and after compaction', async () => {
      const run = newRun();
      const sink = store.open(run, 'big');
      for (let i = 0; i < 2500; i++) sink.write(Buffer.from(`line ${i}\n`), 10_000 + Math.floor(i / 100));
      sink.write(Buffer.from(`${'y'.repeat(70 * 1024)}\n`), 20_000);
      sink.close();
      await sink.stored();
      const live = (await snapshot(store, run, 'big')) as { pages: { lines: unknown[] }[] };
      assert.deepEqual(
        live.pages.map((p) => p.lines.length),
        [1000, 1000, 502],
      );
      assert.deepEqual((live.pages[1]?.lines[0] as { at: number; text: string }) ?? {}, {
        at: 10_010,
        text: 'line 1000',
      });
      await store.compact(run, 'big');
      assert.equal(await chunks.end(run, 'big'), 0, 'the rows are deleted');
      assert.ok(await f.blobs.head(objectKeys(run, 'big').log));
      // A fresh store (another replica, no page index yet) reads the object the same.
      const fresh = new SharedLogStore({ chunks, blobs: f.blobs });
      assert.deepEqual(await snapshot(fresh, run, 'big'), live);
      assert.deepEqual(await snapshot(store, run, 'big'), live);
    });

    it('a crash between the object write and the row delete reads the same, and is cleaned up', async () => {
      const run = newRun();
      const sink = store.open(run, 'c');
      sink.write(Buffer.from('before the crash\nsecond line\n'), 111);
      sink.write(Buffer.from('third\n'), 222);
      sink.close();
      await sink.stored();
      const live = await snapshot(store, run, 'c');
      // The database goes away right after the objects are written.
      const crashing: LogChunkStore = {
        ...bind(chunks),
        deleteBefore: () => Promise.reject(new Error('connection lost')),
      };
      await assert.rejects(new SharedLogStore({ chunks: crashing, blobs: f.blobs }).compact(run, 'c'));
      assert.ok((await chunks.end(run, 'c')) > 0, 'rows are left');
      assert.deepEqual(await snapshot(new SharedLogStore({ chunks, blobs: f.blobs }), run, 'c'), live);
      // The sweep at start finds the leftover (its cube row is gone: compacted like an ended one).
      assert.ok((await store.compactEnded(() => undefined)) >= 1);
      assert.equal(await chunks.end(run, 'c'), 0);
      assert.deepEqual(await snapshot(store, run, 'c'), live);
    });

    it('a read that races another replica compacting the log still reads it whole', async () => {
      const run = newRun();
      const sink = store.open(run, 'c');
      sink.write(Buffer.from('one\n'), 1);
      sink.write(Buffer.from('two\n'), 2);
      sink.close();
      await sink.stored();
      const other = new SharedLogStore({ chunks, blobs: f.blobs });
      let raced = false;
      // The reader looks for the object, finds none; the other replica compacts before it reads rows.
      const racing: BlobStore = {
        ...delegate(f.blobs),
        head: async (key) => {
          const got = await f.blobs.head(key);
          if (!raced && key.endsWith('.log')) {
            raced = true;
            await other.compact(run, 'c');
          }
          return got;
        },
      };
      const reader = new SharedLogStore({ chunks, blobs: racing });
      assert.deepEqual(await reader.read(run, 'c'), [
        { at: 1, text: 'one' },
        { at: 2, text: 'two' },
      ]);
      assert.ok(raced);
      assert.equal(await chunks.end(run, 'c'), 0);
    });

    it('a log opened again after its compaction appends after the object', async () => {
      const run = newRun();
      let sink = store.open(run, 'c');
      sink.write(Buffer.from('attempt 1\n'), 1);
      sink.close();
      await store.compact(run, 'c');
      sink = store.open(run, 'c');
      sink.write(Buffer.from('attempt 2\n'), 2);
      sink.close();
      await sink.stored();
      const expected = [
        { at: 1, text: 'attempt 1' },
        { at: 2, text: 'attempt 2' },
      ];
      assert.deepEqual(await store.read(run, 'c'), expected);
      await store.compact(run, 'c');
      assert.equal(await chunks.end(run, 'c'), 0);
      assert.deepEqual(await new SharedLogStore({ chunks, blobs: f.blobs }).read(run, 'c'), expected);
    });

    it('reads a log written by FileLogStore before logs were shared', async () => {
      const legacy = new FileLogStore(tempDir());
      const run = newRun();
      const sink = legacy.open(run, 'old');
      sink.write(Buffer.from('from an older server\n'), 42);
      sink.close();
      const upgraded = new SharedLogStore({ chunks, blobs: f.blobs, legacy });
      assert.deepEqual(await upgraded.read(run, 'old'), [{ at: 42, text: 'from an older server' }]);
      assert.equal(await upgraded.size(run, 'old'), 21);
      assert.deepEqual(await upgraded.read(run, 'none'), []);
    });
  });
}

/** A blob store's members bound to it, to replace one of them. */
function delegate(blobs: BlobStore): BlobStore {
  return {
    kind: blobs.kind,
    put: blobs.put.bind(blobs),
    get: blobs.get.bind(blobs),
    head: blobs.head.bind(blobs),
    delete: blobs.delete.bind(blobs),
    list: blobs.list.bind(blobs),
    downloadUrl: blobs.downloadUrl.bind(blobs),
    url: blobs.url.bind(blobs),
    keyOf: blobs.keyOf.bind(blobs),
    close: blobs.close.bind(blobs),
  };
}

/** The store's methods bound to it, to replace one of them. */
function bind(store: SqlLogChunkStore): LogChunkStore {
  return {
    end: store.end.bind(store),
    insert: store.insert.bind(store),
    read: store.read.bind(store),
    marks: store.marks.bind(store),
    deleteBefore: store.deleteBefore.bind(store),
    cubesOf: store.cubesOf.bind(store),
    ended: store.ended.bind(store),
  };
}
