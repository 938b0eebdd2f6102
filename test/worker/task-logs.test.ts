import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OffsetLogAppender } from '../../src/app/task-logs.js';
import { FileLogStore } from '../../src/logs/file-log-store.js';
import { tempDir } from '../helpers/repo.js';

const text = async (store: FileLogStore) =>
  (await store.readBytes('run', 'cube', 0, await store.size('run', 'cube'))).toString();

describe('log appends by offset (the server side of a worker upload)', () => {
  it('appends at the stored size, recognizes a replay, refuses gaps and different bytes', async () => {
    const store = new FileLogStore(tempDir());
    const logs = new OffsetLogAppender(store);
    const append = (start: number, chunk: string) =>
      logs.append('run', 'cube', 0, start, Buffer.from(chunk), 1);
    assert.deepEqual(await append(0, 'abc'), { ok: true, size: 3 });
    // The answer was lost and the worker sends the chunk again: nothing doubles.
    assert.deepEqual(await append(0, 'abc'), { ok: true, size: 3 });
    // A retry that also carries new bytes appends only those.
    assert.deepEqual(await append(0, 'abcdef'), { ok: true, size: 6 });
    assert.deepEqual(await append(3, 'dXf'), { ok: false, size: 6 });
    assert.deepEqual(await append(9, 'ghi'), { ok: false, size: 6 });
    assert.equal(await text(store), 'abcdef');
  });

  it('counts from the base of the lease, and concurrent retries never interleave', async () => {
    const store = new FileLogStore(tempDir());
    const logs = new OffsetLogAppender(store);
    await logs.append('run', 'cube', 0, 0, Buffer.from('first attempt\n'), 1);
    const base = await store.size('run', 'cube');
    const chunks = ['one ', 'two ', 'three '];
    let at = 0;
    const sends = chunks.flatMap((chunk) => {
      const start = at;
      at += chunk.length;
      // Every chunk is sent twice at once, as a client retrying a request it thinks was lost.
      return [0, 1].map(() => logs.append('run', 'cube', base, start, Buffer.from(chunk), 2));
    });
    await Promise.all(sends);
    assert.equal(await text(store), 'first attempt\none two three ');
  });

  it('writes nothing once the lease moved on while the append waited its turn', async () => {
    const store = new FileLogStore(tempDir());
    const logs = new OffsetLogAppender(store);
    let held = true;
    const slow = logs.append('run', 'cube', 0, 0, Buffer.from('early '), 1, () => {
      held = false; // the reaper ends the lease while this append waits
      return Promise.resolve(true);
    });
    const late = logs.append('run', 'cube', 0, 6, Buffer.from('late'), 1, () => Promise.resolve(held));
    assert.deepEqual(await slow, { ok: true, size: 6 });
    assert.deepEqual(await late, { ok: false, lost: true });
    assert.equal(await text(store), 'early ');
  });
});
