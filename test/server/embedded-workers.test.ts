import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { CONTAINER_ENV, CONVEYOR, waitFor } from '../helpers/cli.js';
import { processesWith } from '../helpers/processes.js';
import { tempDir, tempRepo } from '../helpers/repo.js';
import { cubeLog, runEnded, runToEnd } from '../helpers/runs.js';
import { registerRepo, startTestServer, type TestServer } from '../helpers/server.js';
import { startWorker, workerToken, type TestWorker } from '../helpers/workers.js';

const CONFIG = `
workflows:
  build:
    tasks:
      - name: first
        outputs:
          V: \${{ cubes.make.outputs.V }}
        cubes:
          - name: make
            script:
              - echo "worker=$CONVEYOR_WORKER"
              - echo "secret=\${{ secrets.TOKEN }}"
              - cat src/a.txt
              - echo "V=from-$CONVEYOR_WORKER" >> $SOURCECRAFT_OUTPUT
              - echo "CARRIED=env-between-cubes" >> $SOURCECRAFT_ENV
              - mkdir -p out && echo artifact-body > out/file.txt
              # No process on the host shows the worker token on its command line or in its environment.
              - "! grep -l cvw_ /proc/[0-9]*/cmdline /proc/[0-9]*/environ 2>/dev/null"
            artifacts:
              paths: [out/file.txt]
          - name: second
            needs: [make]
            script:
              - echo "second sees $CARRIED"
      - name: then
        needs: [first]
        runs_on: [compute]
        cubes:
          - name: use
            script:
              - echo "got \${{ tasks.first.outputs.V }} on $CONVEYOR_WORKER"
  gpu:
    tasks:
      - name: g
        runs_on: [self-hosted, gpu]
        cubes:
          - name: c
            script: [echo on $CONVEYOR_WORKER]
  slow:
    tasks:
      - name: s
        cubes:
          - name: c
            script: ['sleep 1', 'echo slept-x']
`;

describe('embedded workers: every task of a server run goes through the worker protocol', () => {
  let t: TestServer;
  const workers: TestWorker[] = [];
  const repo = 'acme/app';

  before(async () => {
    t = await startTestServer({ embeddedWorkers: 1 });
    await registerRepo(t, tempRepo({ '.conveyor/ci.yaml': CONFIG, 'src/a.txt': 'file-from-repo' }));
    assert.equal(
      (await t.api('PUT', `/repos/${repo}/cicd/secrets/TOKEN`, { value: 'hunter2-secret' })).status,
      204,
    );
  });
  after(async () => {
    await Promise.all(workers.map((w) => w.stop()));
    await t.close();
  });

  it('runs untagged and compute tasks on the embedded worker: checkout, secrets masked, outputs, env, artifacts', async () => {
    const run = await runToEnd(t, repo, 'build');
    assert.equal(run.status, 'success', JSON.stringify(run));
    const make = await cubeLog(t, repo, run.slug, 'build/first/make');
    assert.match(make, /worker=embedded-1-[0-9a-f]{6}/);
    assert.match(make, /secret=\*\*\*/);
    assert.doesNotMatch(make, /hunter2/);
    assert.match(make, /file-from-repo/);
    assert.match(await cubeLog(t, repo, run.slug, 'build/first/second'), /second sees env-between-cubes/);
    assert.match(
      await cubeLog(t, repo, run.slug, 'build/then/use'),
      /got from-embedded-1-\w+ on embedded-1-/,
    );
    const artifact = run.workflows[0]?.tasks[0]?.cubes[0]?.artifacts[0];
    assert.equal(artifact?.status, 'success');
    const body = await fetch(artifact?.download_url ?? '');
    assert.equal((await body.text()).trim(), 'artifact-body');
    const listed = await t.api<{ workers: { name: string; untagged: boolean; tags: string[] }[] }>(
      'GET',
      '/workers',
    );
    const embedded = listed.body.workers.find((w) => w.name.startsWith('embedded-1-'));
    assert.equal(embedded?.untagged, true);
    assert.deepEqual(embedded?.tags, ['self-hosted']);
  });

  it('shows `waiting for a worker with tags […]` while no connected worker can take a task, cleared once one does', async () => {
    const started = await t.api<{ slug: string }>('POST', `/repos/${repo}/cicd/runs`, {
      workflows: [{ name: 'gpu' }],
    });
    const waiting = await waitFor(async () => {
      const got = await t.api<{ workflows: { tasks: { message?: string }[] }[] }>(
        'GET',
        `/repos/${repo}/cicd/runs/${started.body.slug}`,
      );
      return got.body.workflows[0]?.tasks[0]?.message;
    }, 'the waiting message');
    assert.equal(waiting, 'waiting for a worker with tags [self-hosted, gpu]');
    workers.push(await startWorker(t.url, await workerToken(t), { name: 'w-gpu', tags: ['gpu'] }));
    const run = await runEnded(t, repo, started.body.slug);
    assert.equal(run.status, 'success');
    assert.match(await cubeLog(t, repo, run.slug, 'gpu/g/c'), /on w-gpu/);
    const again = await t.api<{ workflows: { tasks: { message?: string }[] }[] }>(
      'GET',
      `/repos/${repo}/cicd/runs/${run.slug}`,
    );
    assert.equal(again.body.workflows[0]?.tasks[0]?.message, undefined);
  });
});

const ADMIN = 'embedded-admin-token-0123456789';

/** `conveyor server --embedded-workers 1` as a real process. */
async function serve(dataDir: string): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  const child = spawn(CONVEYOR, ['server', '--port', '0', '--data-dir', dataDir, '--embedded-workers', '1'], {
    env: { ...process.env, ...CONTAINER_ENV, CONVEYOR_ADMIN_TOKEN: ADMIN, CONVEYOR_DRAIN_MS: '20000' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const url = await waitFor(
    () => /listening on (http:\/\/\S+)/.exec(out)?.[1],
    'the server to start',
    30_000,
  );
  return { child, url, output: () => out };
}

async function call<T>(url: string, method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return (await response.json()) as T;
}

const exited = (child: ChildProcess) =>
  new Promise<void>((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', () => resolve())));

describe('embedded workers end with their server', () => {
  const children: ChildProcess[] = [];
  after(() => children.forEach((c) => c.kill('SIGKILL')));

  async function serverWithRepo(config: string) {
    const dataDir = tempDir('conveyor-embedded-');
    const server = await serve(dataDir);
    children.push(server.child);
    await call(server.url, 'POST', '/orgs', { slug: 'o', name: 'o' });
    await call(server.url, 'POST', '/orgs/o/repos', {
      slug: 'r',
      name: 'r',
      clone_url: tempRepo({ '.conveyor/ci.yaml': config }),
      poll_interval_seconds: 0,
    });
    return { ...server, dataDir };
  }

  it('kill -9 of the server: the embedded worker exits and its cube processes end', async () => {
    const marker = `${4000 + Math.floor(Math.random() * 1000)}.${process.pid}`;
    const server = await serverWithRepo(
      `workflows:\n  w:\n    tasks: [{name: t, cubes: [{name: c, script: ['sleep ${marker}']}]}]\n`,
    );
    await call(server.url, 'POST', '/repos/o/r/cicd/runs', { workflows: [{ name: 'w' }] });
    await waitFor(
      () => processesWith(`sleep ${marker}`).length > 0 || undefined,
      'the cube to start',
      20_000,
    );
    const listed = await call<{ workers: { name: string }[] }>(server.url, 'GET', '/workers');
    const name = listed.workers.find((w) => w.name.startsWith('embedded-1-'))?.name ?? '?';
    assert.ok(processesWith(`--name ${name}`).length > 0, 'the embedded worker runs');
    server.child.kill('SIGKILL');
    await waitFor(
      () =>
        (processesWith(`sleep ${marker}`).length === 0 && processesWith(`--name ${name}`).length === 0) ||
        undefined,
      'the cube and the embedded worker to end',
      5000,
    );
  });

  it('SIGTERM of the server drains: the running cube finishes through the worker and is recorded', async () => {
    const server = await serverWithRepo(
      "workflows:\n  w:\n    tasks: [{name: t, cubes: [{name: c, script: ['sleep 2', 'echo drained-ok']}]}]\n",
    );
    const listed = await call<{ workers: { name: string }[] }>(server.url, 'GET', '/workers');
    const name = listed.workers.find((w) => w.name.startsWith('embedded-1-'))?.name ?? '?';
    const run = await call<{ slug: string }>(server.url, 'POST', '/repos/o/r/cicd/runs', {
      workflows: [{ name: 'w' }],
    });
    await waitFor(async () => {
      const got = await call<{ status: string }>(server.url, 'GET', `/repos/o/r/cicd/runs/${run.slug}`);
      return got.status === 'processing' || undefined;
    }, 'the run to start');
    await new Promise((r) => setTimeout(r, 300));
    server.child.kill('SIGTERM');
    await exited(server.child);
    assert.equal(processesWith(`--name ${name}`).length, 0, 'no embedded worker is left');
    const again = await serve(server.dataDir);
    children.push(again.child);
    const got = await call<{ status: string }>(again.url, 'GET', `/repos/o/r/cicd/runs/${run.slug}`);
    assert.equal(got.status, 'success', again.output());
    const log = await call<{ logs: string }>(again.url, 'GET', `/repos/o/r/cicd/logs/${run.slug}/w/t/c`);
    assert.match(log.logs, /drained-ok/);
    again.child.kill('SIGTERM');
    await exited(again.child);
  });
});
