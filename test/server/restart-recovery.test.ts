import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { after, describe, it } from 'node:test';
import { CONTAINER_ENV, CONVEYOR, waitFor } from '../helpers/cli.js';
import { processesWith } from '../helpers/processes.js';
import { tempDir, tempRepo } from '../helpers/repo.js';

const TOKEN = 'recovery-admin-token-0123456789';

interface Proc {
  child: ChildProcess;
  url: string;
  output: () => string;
}

/** `conveyor server` as a real process on a free port; resolves once it printed its URL. */
async function serve(dataDir: string, extraEnv: Record<string, string> = {}): Promise<Proc> {
  const child = spawn(CONVEYOR, ['server', '--port', '0', '--data-dir', dataDir], {
    env: {
      ...process.env,
      ...CONTAINER_ENV,
      CONVEYOR_ADMIN_TOKEN: TOKEN,
      CONVEYOR_REPLICA_ID: 'test-replica',
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const url = await waitFor(
    () => /listening on (http:\/\/\S+)/.exec(out)?.[1],
    'the server to start',
    20_000,
  );
  return { child, url, output: () => out };
}

async function api<T = Record<string, unknown>>(
  url: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return { status: response.status, body: (await response.json()) as T };
}

const exited = (child: ChildProcess) =>
  new Promise<number | null>((resolve) =>
    child.exitCode !== null ? resolve(child.exitCode) : child.on('exit', (code) => resolve(code)),
  );

describe('a server that dies or stops loses no run', () => {
  const children: ChildProcess[] = [];
  after(() => children.forEach((c) => c.kill('SIGKILL')));

  it('ends a run left processing by a killed server, with a message, when it starts again', async () => {
    const marker = `${Math.floor(Math.random() * 1e6)}.6789`;
    const repo = tempRepo({
      '.conveyor/ci.yaml': `workflows:\n  w:\n    tasks: [{name: t, cubes: [{name: c, script: ["sleep ${marker}"]}]}]\n`,
    });
    const dataDir = tempDir('conveyor-recovery-');
    const first = await serve(dataDir);
    children.push(first.child);
    assert.equal((await api(first.url, 'POST', '/orgs', { slug: 'o', name: 'O' })).status, 201);
    assert.equal(
      (
        await api(first.url, 'POST', '/orgs/o/repos', {
          slug: 'r',
          name: 'R',
          clone_url: repo,
          poll_interval_seconds: 0,
        })
      ).status,
      201,
    );
    const run = await api<{ slug: string }>(first.url, 'POST', '/repos/o/r/cicd/runs', {
      workflows: [{ name: 'w' }],
    });
    await waitFor(() => processesWith(`sleep ${marker}`).length > 0 || undefined, 'the cube to start');
    // The engine writes its changes in batches (FLUSH_DELAY_MS): kill only once the store knows the
    // cube runs, so the run is really "left processing" (a kill before that is a cube never recorded
    // as started, which ends without this message).
    await waitFor(
      async () =>
        (
          await api<{ workflows: { tasks: { cubes: { status: string }[] }[] }[] }>(
            first.url,
            'GET',
            `/repos/o/r/cicd/runs/${run.body.slug}`,
          )
        ).body.workflows[0]?.tasks[0]?.cubes[0]?.status === 'processing' || undefined,
      'the store to record the cube as processing',
    );
    first.child.kill('SIGKILL');
    await exited(first.child);
    for (const pid of processesWith(`sleep ${marker}`)) process.kill(pid, 'SIGKILL'); // what a machine reboot would do

    const second = await serve(dataDir);
    children.push(second.child);
    const got = await api<{
      status: string;
      error_messages: string[];
      workflows: { tasks: { cubes: { status: string; error_message?: string }[] }[] }[];
    }>(second.url, 'GET', `/repos/o/r/cicd/runs/${run.body.slug}`);
    assert.equal(got.body.status, 'canceled');
    assert.match(got.body.error_messages.join('\n'), /Conveyor stopped while this run was processing/);
    assert.match(got.body.workflows[0]?.tasks[0]?.cubes[0]?.error_message ?? '', /restart the run/i);
    second.child.kill('SIGTERM');
    assert.equal(await exited(second.child), 0);
  });

  it('on SIGTERM takes no new work, lets a running cube finish and exits 0', async () => {
    const repo = tempRepo({
      '.conveyor/ci.yaml':
        'workflows:\n  w:\n    tasks: [{name: t, cubes: [{name: c, script: ["sleep 1.2345", "echo finished"]}]}]\n',
    });
    const dataDir = tempDir('conveyor-drain-');
    const server = await serve(dataDir);
    children.push(server.child);
    await api(server.url, 'POST', '/orgs', { slug: 'o', name: 'O' });
    await api(server.url, 'POST', '/orgs/o/repos', {
      slug: 'r',
      name: 'R',
      clone_url: repo,
      poll_interval_seconds: 0,
    });
    const run = await api<{ slug: string }>(server.url, 'POST', '/repos/o/r/cicd/runs', {
      workflows: [{ name: 'w' }],
    });
    await waitFor(() => processesWith('sleep 1.2345').length > 0 || undefined, 'the cube to start');
    server.child.kill('SIGTERM');
    assert.equal(await exited(server.child), 0);
    assert.match(server.output(), /draining/);

    const again = await serve(dataDir);
    children.push(again.child);
    const got = await api<{ status: string }>(again.url, 'GET', `/repos/o/r/cicd/runs/${run.body.slug}`);
    assert.equal(got.body.status, 'success', 'the cube finished during the drain');
    again.child.kill('SIGTERM');
    await exited(again.child);
  });
});
