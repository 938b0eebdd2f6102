import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '../helpers/cli.js';
import { processesWith } from '../helpers/processes.js';
import { tempRepo } from '../helpers/repo.js';
import { registerRepo, startTestServer, type TestServer } from '../helpers/server.js';
import { startWorker, workerToken, type TestWorker } from '../helpers/workers.js';

interface CubeJson {
  status: string;
  error_message?: string;
}
interface RunJson {
  slug: string;
  status: string;
  error_messages: string[];
  workflows: { tasks: { slug: string; status: string; cubes: CubeJson[] }[] }[];
}

const marker = `${Math.floor(Math.random() * 1e6)}`;
const DRAIN_MS = 3000;

const CONFIG = `workflows:
  hang:
    tasks:
      - name: t
        runs_on: [stop]
        cubes:
          - name: c
            script:
              - echo "start on $CONVEYOR_WORKER"
              - if [ "$CONVEYOR_WORKER" != s1 ]; then echo "done on $CONVEYOR_WORKER"; exit 0; fi
              - setsid sleep 4${marker}.1 &
              - for i in $(seq 100000); do echo "tick $i"; sleep 0.05; done
  drain:
    tasks:
      - name: quick
        runs_on: [drain]
        cubes:
          - name: c
            script: ['echo begun', 'sleep 1.5', 'echo finished']
      - name: long
        runs_on: [drain]
        cubes:
          - name: c
            script: ['echo begun', 'setsid sleep 5${marker}.1 &', 'sleep 5${marker}.2']
  later:
    tasks:
      - name: t
        runs_on: [drain]
        cubes:
          - name: c
            script: ['echo "later on $CONVEYOR_WORKER"']
`;

describe('worker signals: kill -STOP past the lease, then CONT; SIGTERM drains', () => {
  let t: TestServer;
  let token: string;
  const workers: TestWorker[] = [];
  const base = '/repos/acme/app';
  const runOf = async (slug: string) => (await t.api<RunJson>('GET', `${base}/cicd/runs/${slug}`)).body;
  const finished = (slug: string) =>
    waitFor(
      async () => {
        const run = await runOf(slug);
        return ['success', 'failed', 'canceled'].includes(run.status) ? run : undefined;
      },
      `run ${slug} to end`,
      60_000,
    );
  const logOf = async (slug: string, path: string) =>
    (await t.api<{ logs: string }>('GET', `${base}/cicd/logs/${slug}/${path}`)).body.logs;
  const start = async (workflow: string) =>
    (await t.api<RunJson>('POST', `${base}/cicd/runs`, { workflows: [{ name: workflow }] })).body;

  before(async () => {
    t = await startTestServer({ env: { CONVEYOR_WORKER_LEASE_MS: '3000' } });
    await registerRepo(t, tempRepo({ '.conveyor/ci.yaml': CONFIG }));
    token = await workerToken(t);
  });
  after(async () => {
    for (const w of workers) w.child.kill('SIGCONT');
    await Promise.all(workers.map((w) => w.stop()));
    await t.close();
    for (const pid of processesWith(marker)) process.kill(pid, 'SIGKILL');
  });

  it('a worker stopped past its lease, then resumed, writes nothing more to the task and ends its processes', async () => {
    const s1 = await startWorker(t.url, token, { name: 's1', tags: ['stop'] });
    workers.push(s1);
    const run = await start('hang');
    await waitFor(async () => (await logOf(run.slug, 'hang/t/c')).includes('tick 3') || undefined, 'ticks');
    s1.child.kill('SIGSTOP');
    workers.push(await startWorker(t.url, token, { name: 's2', tags: ['stop'] }));
    const ended = await finished(run.slug);
    assert.equal(ended.status, 'success', JSON.stringify(ended));
    const log = await waitFor(async () => {
      const got = await logOf(run.slug, 'hang/t/c');
      return got.includes('done on s2') ? got : undefined;
    }, 'the second attempt in the log');
    assert.match(log, /^start on s1\n(tick \d+\n)+.*retried on another worker\nstart on s2\ndone on s2\n$/s);
    assert.ok(processesWith(`sleep 4${marker}.1`).length > 0, 'the stopped worker`s cube still runs');
    s1.child.kill('SIGCONT');
    await waitFor(
      () =>
        /(lease is gone|lease could not be renewed for \d+ s); stopping it/.test(s1.output()) || undefined,
      's1 to fence itself',
    );
    await waitFor(
      () => processesWith(`sleep 4${marker}.1`).length === 0 || undefined,
      'the resumed worker to end its processes',
      5000,
    );
    await new Promise((resolve) => setTimeout(resolve, 1000));
    assert.equal(await logOf(run.slug, 'hang/t/c'), log, 'the resumed worker wrote to the log');
    assert.equal((await runOf(run.slug)).status, 'success');
  });

  it('SIGTERM: the running task finishes within the grace, the longer one is canceled with a message, no new task, exit 0', async () => {
    const d1 = await startWorker(t.url, token, {
      name: 'd1',
      tags: ['drain'],
      slots: 2,
      env: { CONVEYOR_DRAIN_MS: String(DRAIN_MS) },
    });
    workers.push(d1);
    const run = await start('drain');
    for (const task of ['quick', 'long'])
      await waitFor(
        async () => (await logOf(run.slug, `drain/${task}/c`)).includes('begun') || undefined,
        task,
      );
    d1.child.kill('SIGTERM');
    await waitFor(() => d1.output().includes('draining') || undefined, 'd1 to drain');
    const later = await start('later');
    assert.equal(await d1.exited, 0, d1.output());
    const ended = await finished(run.slug);
    const tasks = new Map(ended.workflows[0]?.tasks.map((task) => [task.slug, task]));
    assert.equal(tasks.get('quick')?.status, 'success', JSON.stringify(ended));
    assert.match(await logOf(run.slug, 'drain/quick/c'), /finished/);
    assert.equal(tasks.get('long')?.status, 'canceled', JSON.stringify(ended));
    assert.match(tasks.get('long')?.cubes[0]?.error_message ?? '', /d1 shut down before the task finished/);
    assert.deepEqual(processesWith(`sleep 5${marker}.`), []);
    assert.equal(await logOf(later.slug, 'later/t/c'), '', 'the draining worker took a new task');
    workers.push(await startWorker(t.url, token, { name: 'd2', tags: ['drain'] }));
    assert.equal((await finished(later.slug)).status, 'success');
    assert.match(await logOf(later.slug, 'later/t/c'), /later on d2/);
  });
});
