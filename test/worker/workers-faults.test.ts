import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '../helpers/cli.js';
import { processesWith } from '../helpers/processes.js';
import { sharedRecord, tempRepo } from '../helpers/repo.js';
import { registerRepo, startTestServer, type TestServer } from '../helpers/server.js';
import { startWorker, workerToken, type TestWorker } from '../helpers/workers.js';

interface RunJson {
  slug: string;
  status: string;
  error_messages: string[];
}

const marker = `${Math.floor(Math.random() * 1e6)}`;
const TAGS: Record<string, string[]> = { a: ['alpha'], b: ['beta'], ab: ['alpha', 'beta'] };

function config(record: string): string {
  const tasks = Array.from({ length: 200 }, (_, i) => {
    const kind = ['a', 'b', 'ab'][i % 3] ?? 'a';
    return `      - name: t${i}
        runs_on: [${(TAGS[kind] ?? []).join(', ')}]
        cubes:
          - name: c
            script: ['echo "t${i} ${kind} $CONVEYOR_WORKER" >> ${record}']`;
  });
  return `workflows:
  many:
    tasks:
${tasks.join('\n')}
  lost:
    tasks:
      - name: slow
        runs_on: [gamma]
        cubes:
          - name: c
            script:
              - echo "start on $CONVEYOR_WORKER"
              - echo started
              - if [ "$CONVEYOR_WORKER" = g1 ]; then sleep 1${marker}.1; fi
              - echo "done on $CONVEYOR_WORKER"
  cancel:
    tasks:
      - name: long
        runs_on: [delta]
        cubes:
          - name: c
            script:
              - setsid sleep 2${marker}.2 &
              - nohup sleep 2${marker}.3 > /dev/null 2>&1 &
              - (trap '' TERM HUP; exec sleep 2${marker}.4) &
              - python3 -c "import os; os.fork() == 0 and (os.setsid(), os.fork() == 0 and os.execvp('sleep', ['sleep', '2${marker}.5']))"
              - sleep 2${marker}.6
`;
}

describe('workers under load and faults', () => {
  let t: TestServer;
  let token: string;
  const record = sharedRecord();
  const workers: TestWorker[] = [];
  const base = '/repos/acme/app';
  const finished = (slug: string, ms = 60_000) =>
    waitFor(
      async () => {
        const run = await t.api<RunJson>('GET', `${base}/cicd/runs/${slug}`);
        return ['success', 'failed', 'canceled', 'timeout'].includes(run.body.status) ? run.body : undefined;
      },
      `run ${slug} to end`,
      ms,
    );
  const start = async (workflow: string) =>
    (await t.api<RunJson>('POST', `${base}/cicd/runs`, { workflows: [{ name: workflow }] })).body;

  before(async () => {
    t = await startTestServer({ env: { CONVEYOR_WORKER_LEASE_MS: '3000' } });
    await registerRepo(t, tempRepo({ '.conveyor/ci.yaml': config(record) }));
    token = await workerToken(t);
  });
  after(async () => {
    await Promise.all(workers.map((w) => w.stop()));
    await t.close();
    // Only this file's own cubes carry the marker; a failed assertion must not leave them behind.
    for (const pid of processesWith(`${marker}.`)) process.kill(pid, 'SIGKILL');
  });

  it('runs 200 tasks on three workers with different tags: each once, on a worker with its tags', async () => {
    for (const [name, tags] of Object.entries(TAGS))
      workers.push(await startWorker(t.url, token, { name: `w-${name}`, tags, slots: 4 }));
    const run = await finished((await start('many')).slug);
    assert.equal(run.status, 'success', JSON.stringify(run.error_messages));
    assert.deepEqual(run.error_messages, []);
    const lines = readFileSync(record, 'utf8').trim().split('\n');
    assert.equal(lines.length, 200);
    const seen = new Set<string>();
    for (const line of lines) {
      const [task = '', kind = '', worker = ''] = line.split(' ');
      assert.ok(!seen.has(task), `${task} ran once`);
      seen.add(task);
      const offered = TAGS[worker.replace(/^w-/, '')] ?? [];
      for (const tag of TAGS[kind] ?? []) assert.ok(offered.includes(tag), `${line}: ${worker} has ${tag}`);
    }
    assert.equal(seen.size, 200);
    const used = new Set(lines.map((l) => l.split(' ')[2]));
    assert.deepEqual([...used].sort(), ['w-a', 'w-ab', 'w-b']);
  });

  it('retries the task of a worker killed with -9 (with its sentinel) on another worker; a restarted worker ends its leftovers', async () => {
    const g1 = await startWorker(t.url, token, { name: 'g1', tags: ['gamma'] });
    const run = await start('lost');
    const logOf = async () =>
      (await t.api<{ logs: string }>('GET', `${base}/cicd/logs/${run.slug}/lost/slow/c`)).body.logs;
    await waitFor(
      async () => (await logOf()).includes('start on g1') || undefined,
      'the cube to start on g1',
    );
    // Killed before its script reached the sleep, the cube's shell would die writing to the dead
    // worker's pipe, and there would be no leftover to end.
    await waitFor(() => processesWith(`sleep 1${marker}.1`).length > 0 || undefined, 'the sleep to start');
    // The sentinel would end the cube at once (containment.test.ts); killed with the worker, it
    // leaves the restart's cleanup, the second line, to do it.
    const parent = /under (\S+) \(ended with cgroup\.kill/.exec(g1.output())?.[1];
    assert.ok(parent, g1.output());
    const sentinels = processesWith(`conveyor-sentinel ${parent}`);
    assert.equal(sentinels.length, 1);
    for (const pid of sentinels) process.kill(pid, 'SIGKILL');
    g1.child.kill('SIGKILL');
    await g1.exited;
    workers.push(await startWorker(t.url, token, { name: 'g2', tags: ['gamma'] }));
    const ended = await finished(run.slug);
    assert.equal(ended.status, 'success', JSON.stringify(ended));
    assert.ok(
      ended.error_messages.some((m) =>
        /worker g1 lost its lease .*attempt 1 of 2.*retried on another worker/.test(m),
      ),
      JSON.stringify(ended.error_messages),
    );
    const log = await logOf();
    assert.match(log, /start on g1\n.*retried on another worker\n.*start on g2\nstarted\ndone on g2\n/s);
    assert.doesNotMatch(log, /done on g1/);
    // kill -9 of both leaves the cube running until the worker comes back on its work dir.
    assert.ok(processesWith(`sleep 1${marker}.1`).length > 0);
    workers.push(await startWorker(t.url, token, { name: 'g1', tags: ['gamma'], workDir: g1.workDir }));
    await waitFor(
      () => processesWith(`sleep 1${marker}.1`).length === 0 || undefined,
      'the leftover to end',
      5000,
    );
  });

  it('cancels a task on a worker and ends every process it started (setsid, nohup, double fork)', async () => {
    workers.push(await startWorker(t.url, token, { name: 'd1', tags: ['delta'] }));
    const run = await start('cancel');
    await waitFor(() => processesWith(`sleep 2${marker}.6`).length > 0 || undefined, 'the cube to start');
    await waitFor(() => processesWith(`sleep 2${marker}.5`).length > 0 || undefined, 'the double fork');
    const canceled = await t.api<RunJson>('POST', `${base}/cicd/runs/${run.slug}/cancel`, {});
    assert.equal(canceled.status, 200);
    assert.equal(canceled.body.status, 'canceled');
    await waitFor(
      () => processesWith(`sleep 2${marker}.`).length === 0 || undefined,
      'every process of the task to end',
      5000,
    ).catch((error: unknown) => {
      throw new Error(`${String(error)}\n${workers.at(-1)?.output() ?? ''}`);
    });
  });
});
