import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { randomUUID } from 'node:crypto';
import { parseCiConfig } from '../../src/core/config/parse-config.js';
import type { RunRecord } from '../../src/core/run/model.js';
import { planRun } from '../../src/core/run/plan.js';
import { ConflictError, NotFoundError } from '../../src/ports/errors.js';
import type { RunStore } from '../../src/ports/run-store.js';

const CONFIG = parseCiConfig(
  `workflows:
  build:
    inputs: {NAME: {default: x}}
    tasks:
      - name: compile
        outputs: {V: "\${{ cubes.a.outputs.V }}"}
        cubes:
          - {name: a, script: [echo a], env: {K: v}, artifacts: {paths: [dist/]}}
          - {name: b, script: [echo b], allow_failure: true}
      - name: test
        needs: [compile]
        cubes: [{name: c, image: {name: img, entrypoint: ""}, script: [echo c]}]
  lint:
    tasks: [{name: l, cubes: [{name: l, script: [echo l]}]}]
`,
  'ci.yaml',
).config;

export function newRun(repoId: string, cubesPerTask = 0): RunRecord {
  assert.ok(CONFIG);
  const { run } = planRun(CONFIG, {
    repoId,
    eventType: 'manual',
    workflows: [
      { name: 'build', inputs: {} },
      { name: 'lint', inputs: {} },
    ],
    context: {
      configFile: 'ci.yaml',
      commit: {
        sha: 'abc',
        ref: 'refs/heads/main',
        author: 'a',
        message: 'm',
        timestamp: '2026-01-01T00:00:00Z',
      },
    },
    user: { id: 'u1', slug: 'alice' },
    now: 1_700_000_000_000,
    newId: randomUUID,
  });
  assert.ok(run);
  const task = run.workflows[1]?.tasks[0];
  for (let i = 0; i < cubesPerTask && task; i++) {
    task.cubes.push({ ...structuredClone(task.cubes[0]!), id: randomUUID(), slug: `extra-${i}` });
  }
  return run;
}

/**
 * The behaviour every RunStore adapter must have. Each adapter's test file calls this with a
 * factory that gives a fresh, empty store.
 */
export function runStoreContract(name: string, open: () => Promise<RunStore>): void {
  describe(`RunStore contract: ${name}`, () => {
    let store: RunStore;
    before(async () => {
      store = await open();
    });
    after(async () => {
      await store.close();
    });

    it('assigns slugs 1, 2, 3 per repository', async () => {
      const repo = `repo-${randomUUID()}`;
      const other = `repo-${randomUUID()}`;
      const slugs = [];
      for (let i = 0; i < 3; i++) slugs.push((await store.insertRun(newRun(repo))).slug);
      assert.deepEqual(slugs, ['1', '2', '3']);
      assert.equal((await store.insertRun(newRun(other))).slug, '1');
    });

    it('gives unique slugs to concurrent inserts', async () => {
      const repo = `repo-${randomUUID()}`;
      const runs = await Promise.all(Array.from({ length: 20 }, () => store.insertRun(newRun(repo))));
      assert.deepEqual(
        runs.map((r) => Number(r.slug)).sort((a, b) => a - b),
        Array.from({ length: 20 }, (_, i) => i + 1),
      );
    });

    it('round-trips the whole tree', async () => {
      const run = newRun(`repo-${randomUUID()}`);
      const stored = await store.insertRun(structuredClone(run));
      const read = await store.getRun(run.repoId, stored.slug);
      assert.deepEqual(read, { ...run, slug: stored.slug });
    });

    it('stores large trees', async () => {
      const run = newRun(`repo-${randomUUID()}`, 1000);
      const stored = await store.insertRun(run);
      const read = await store.getRun(run.repoId, stored.slug);
      assert.equal(read.workflows[1]?.tasks[0]?.cubes.length, 1001);
    });

    it('applies changes together and bumps versions', async () => {
      const run = await store.insertRun(newRun(`repo-${randomUUID()}`));
      const cube = run.workflows[0]!.tasks[0]!.cubes[0]!;
      const task = run.workflows[0]!.tasks[0]!;
      run.status = 'processing';
      run.dates.startedAt = 1_700_000_000_500;
      run.errorMessages.push('note');
      cube.status = 'success';
      cube.dates = { ...cube.dates, startedAt: 1, finishedAt: 2, updatedAt: 2 };
      cube.outputs = { V: '1.0' };
      cube.exitCode = 0;
      cube.artifacts = [
        {
          id: 'a1',
          localPath: 'dist/',
          status: 'success',
          registeredAt: 1,
          obtainedAt: 2,
          updatedAt: 2,
          files: [{ path: 'dist/x', size: 3, sha256: 'ff' }],
          location: 'file:///x',
        },
      ];
      task.outputs = { V: '1.0' };
      await store.applyChanges({ run, tasks: [task], cubes: [cube] });
      assert.equal(cube.version, 1);
      assert.equal(run.version, 1);
      const read = await store.getRun(run.repoId, run.slug);
      assert.deepEqual(read, run);
    });

    it('refuses a stale write and writes nothing of it', async () => {
      const run = await store.insertRun(newRun(`repo-${randomUUID()}`));
      const copy = structuredClone(run);
      const cube = run.workflows[0]!.tasks[0]!.cubes[0]!;
      cube.status = 'processing';
      await store.applyChanges({ cubes: [cube] });
      const staleCube = copy.workflows[0]!.tasks[0]!.cubes[0]!;
      staleCube.status = 'failed';
      copy.status = 'failed';
      await assert.rejects(store.applyChanges({ run: copy, cubes: [staleCube] }), ConflictError);
      const read = await store.getRun(run.repoId, run.slug);
      assert.equal(read.status, 'prepared');
      assert.equal(read.workflows[0]?.tasks[0]?.cubes[0]?.status, 'processing');
    });

    it('getRun throws NotFoundError; findRun returns undefined', async () => {
      await assert.rejects(store.getRun('nope', '1'), NotFoundError);
      assert.equal(await store.findRun('nope', '1'), undefined);
      assert.equal(await store.findRun('nope', 'abc'), undefined);
      assert.equal(await store.findRun('nope', '1; drop table runs'), undefined);
    });

    it('lists newest first, page by page, only for the repository', async () => {
      const repo = `repo-${randomUUID()}`;
      for (let i = 0; i < 5; i++) await store.insertRun(newRun(repo));
      await store.insertRun(newRun(`repo-${randomUUID()}`));
      const first = await store.listRuns(repo, { pageSize: 2 });
      assert.deepEqual(
        first.runs.map((r) => r.slug),
        ['5', '4'],
      );
      const second = await store.listRuns(repo, { pageSize: 2, beforeSlug: first.nextBeforeSlug });
      assert.deepEqual(
        second.runs.map((r) => r.slug),
        ['3', '2'],
      );
      const last = await store.listRuns(repo, { pageSize: 2, beforeSlug: second.nextBeforeSlug });
      assert.deepEqual(
        last.runs.map((r) => r.slug),
        ['1'],
      );
      assert.equal(last.nextBeforeSlug, undefined);
      assert.equal(last.runs[0]?.workflows[0]?.tasks[0]?.cubes.length, 2);
    });

    it('hands a prepared run to one owner until its lease runs out', async () => {
      const run = await store.insertRun(newRun(`repo-${randomUUID()}`));
      const t0 = 1_800_000_000_000;
      const claimA = await store.claimRuns('a', t0, t0 + 1000, 1000);
      assert.ok(
        claimA.some((r) => r.id === run.id),
        'owner a gets the run',
      );
      const claimB = await store.claimRuns('b', t0 + 500, t0 + 1500, 1000);
      assert.ok(!claimB.some((r) => r.id === run.id), 'owner b may not take it while the lease holds');
      assert.equal(await store.claimRun('b', run.id, t0 + 500, t0 + 1500), undefined);
      await store.renewLeases('a', [run.id], t0 + 3000);
      assert.equal(
        await store.claimRun('b', run.id, t0 + 2000, t0 + 4000),
        undefined,
        'the renewed lease holds',
      );
      const late = await store.claimRun('b', run.id, t0 + 3001, t0 + 5000);
      assert.equal(late?.id, run.id, 'after the lease ran out, another owner may claim it');
    });

    it('claims abandoned processing runs: expired leases, and its own after a restart', async () => {
      const run = await store.insertRun(newRun(`repo-${randomUUID()}`));
      const t0 = 1_900_000_000_000;
      assert.equal((await store.claimRun('a', run.id, t0, t0 + 1000))?.id, run.id);
      run.status = 'processing';
      await store.applyChanges({ run });
      const early = await store.claimAbandoned('b', t0 + 10, t0 + 1000, false);
      assert.ok(!early.some((r) => r.id === run.id), 'a live lease is not abandoned');
      const own = await store.claimAbandoned('a', t0 + 10, t0 + 1000, true);
      assert.ok(
        own.some((r) => r.id === run.id),
        'a restarted owner takes back its own runs at once',
      );
      const expired = await store.claimAbandoned('b', t0 + 2000, t0 + 3000, false);
      assert.ok(
        expired.some((r) => r.id === run.id),
        'an expired lease is abandoned',
      );
      assert.equal(expired.find((r) => r.id === run.id)?.status, 'processing');
    });
  });
}
