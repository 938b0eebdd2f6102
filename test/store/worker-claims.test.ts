import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Kysely } from 'kysely';
import type { WorkerTaskRow } from '../../src/ports/worker-store.js';
import { openPostgresDb } from '../../src/store/postgres.js';
import type { Database } from '../../src/store/schema.js';
import { openSqliteDb } from '../../src/store/sqlite.js';
import { SqlWorkerStore } from '../../src/store/sql-worker-store.js';
import { tempPostgresUrl } from '../helpers/postgres.js';
import { tempDir } from '../helpers/repo.js';

let queuedAt = 1000;
function task(taskId: string, tags: string[]): WorkerTaskRow {
  queuedAt += 1;
  return {
    taskId,
    runId: `run-${taskId}`,
    repoId: 'repo',
    tags,
    state: 'queued',
    attempt: 1,
    maxAttempts: 2,
    epoch: 0,
    queuedAt,
    updatedAt: queuedAt,
    payload: '{}',
  };
}

const lease = { now: 5000, until: 20_000, tokenHash: 'h' };

/**
 * The claim rules of ports/worker-store.ts, on both drivers: PostgreSQL claims with one
 * `FOR UPDATE SKIP LOCKED` statement, SQLite with a compare-and-set; they must hand out the same
 * tasks (untagged tasks only to workers that take them; `only` limits to those ids).
 */
function claimRules(name: string, open: () => Promise<{ db: Kysely<Database>; postgres: boolean }>): void {
  describe(`worker task claims (${name})`, () => {
    let db: Kysely<Database>;
    let store: SqlWorkerStore;
    before(async () => {
      const opened = await open();
      db = opened.db;
      store = new SqlWorkerStore(db, opened.postgres);
    });
    after(() => db.destroy());

    it('hands an untagged task only to a worker that takes untagged tasks, oldest first', async () => {
      await store.enqueueTask(task('u1', []));
      await store.enqueueTask(task('gpu1', ['gpu']));
      await store.enqueueTask(task('u2', []));
      const tagged = { name: 'w-gpu', tags: ['gpu', 'linux'], untagged: false };
      assert.equal((await store.claimTask(tagged, lease))?.taskId, 'gpu1');
      assert.equal(
        await store.claimTask(tagged, lease),
        undefined,
        'no untagged task for a tagged-only worker',
      );
      const embedded = { name: 'w-any', tags: [], untagged: true };
      const first = await store.claimTask(embedded, lease);
      assert.equal(first?.taskId, 'u1');
      assert.equal(first?.state, 'leased');
      assert.equal(first?.epoch, 1);
      assert.equal(first?.workerName, 'w-any');
      assert.equal((await store.claimTask(embedded, lease))?.taskId, 'u2');
      assert.equal(await store.claimTask(embedded, lease), undefined);
    });

    it('hands a tagged task only to a worker with every tag, untagged or not', async () => {
      await store.enqueueTask(task('two', ['gpu', 'linux']));
      assert.equal(await store.claimTask({ name: 'a', tags: ['gpu'], untagged: true }, lease), undefined);
      assert.equal(await store.claimTask({ name: 'b', tags: [], untagged: true }, lease), undefined);
      const got = await store.claimTask({ name: 'c', tags: ['linux', 'x', 'gpu'], untagged: true }, lease);
      assert.equal(got?.taskId, 'two');
    });

    it('with `only`, hands out one of those tasks and no other', async () => {
      await store.enqueueTask(task('mine-not', []));
      await store.enqueueTask(task('mine', []));
      const embedded = { name: 'e', tags: [], untagged: true };
      assert.equal(await store.claimTask({ ...embedded, only: [] }, lease), undefined);
      assert.equal(await store.claimTask({ ...embedded, only: ['other'] }, lease), undefined);
      assert.equal((await store.claimTask({ ...embedded, only: ['mine', 'other'] }, lease))?.taskId, 'mine');
      assert.equal((await store.claimTask(embedded, lease))?.taskId, 'mine-not');
    });

    it('leases a task once when claims race', async () => {
      for (let i = 0; i < 5; i++) await store.enqueueTask(task(`race-${i}`, ['race']));
      const worker = (n: number) => ({ name: `r${n}`, tags: ['race'], untagged: false });
      const got = await Promise.all(Array.from({ length: 8 }, (_, n) => store.claimTask(worker(n), lease)));
      const ids = got.flatMap((row) => (row ? [row.taskId] : []));
      assert.equal(new Set(ids).size, ids.length, `a task leased twice: ${ids.join(', ')}`);
      // SQLite's compare-and-set may lose a race and answer nothing; SKIP LOCKED takes the next row.
      if (name === 'PostgreSQL') assert.equal(ids.length, 5, ids.join(', '));
    });
  });
}

claimRules('SQLite', async () => ({ db: await openSqliteDb(join(tempDir(), 'c.db')), postgres: false }));
claimRules('PostgreSQL', async () => ({ db: await openPostgresDb(await tempPostgresUrl()), postgres: true }));
