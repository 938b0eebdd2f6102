import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { waitFor } from '../helpers/cli.js';
import { tempDir, tempRepo } from '../helpers/repo.js';
import { serverProcess } from '../helpers/server.js';
import { startWorker, type TestWorker } from '../helpers/workers.js';

const TOKEN = 'restart-admin-token-0123456789';

interface RunJson {
  slug: string;
  status: string;
  error_messages: string[];
  workflows: { tasks: { cubes: { status: string }[] }[] }[];
}

/** A port that was free a moment ago: the restarted server must come back where the worker looks. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  return typeof address === 'object' && address ? address.port : 0;
}

/** `conveyor server` as a real process; resolves once it listens. */
function serve(dataDir: string, port: number): ReturnType<typeof serverProcess> {
  return serverProcess(['--host', '127.0.0.1', '--port', String(port), '--data-dir', dataDir], {
    CONVEYOR_ADMIN_TOKEN: TOKEN,
    CONVEYOR_SECRET_KEY: 'restart-secret-key-0123456789',
    CONVEYOR_WORKER_LEASE_MS: '20000',
  });
}

const exited = (child: ChildProcess) =>
  new Promise<number | null>((resolve) =>
    child.exitCode !== null || child.signalCode !== null
      ? resolve(child.exitCode)
      : child.on('exit', (code) => resolve(code)),
  );

describe('a server restarted while a worker runs its task', () => {
  const children: ChildProcess[] = [];
  let worker: TestWorker | undefined;
  after(async () => {
    await worker?.stop();
    children.forEach((c) => c.kill('SIGKILL'));
  });

  it('resumes the run from the store after kill -9; the worker reconnects and finishes it, log complete', async () => {
    const go = join(tempDir(), 'go');
    const repo = tempRepo({
      '.conveyor/ci.yaml': `workflows:
  w:
    tasks:
      - name: remote
        runs_on: [linux]
        cubes:
          - name: c
            script:
              - echo "before the restart on $CONVEYOR_WORKER"
              - while [ ! -e ${go} ]; do sleep 0.1; done
              - echo "after the restart"
      - name: next
        needs: [remote]
        runs_on: [linux]
        cubes:
          - name: c
            script: ["echo next task"]
`,
    });
    const dataDir = tempDir('conveyor-restart-');
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const api = async <T = Record<string, unknown>>(method: string, path: string, body?: unknown) => {
      const response = await fetch(`${url}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${TOKEN}`,
          ...(body ? { 'content-type': 'application/json' } : {}),
        },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
      return { status: response.status, body: (await response.json()) as T };
    };
    const first = await serve(dataDir, port);
    children.push(first.child);
    assert.equal((await api('POST', '/orgs', { slug: 'o', name: 'O' })).status, 201);
    const created = await api('POST', '/orgs/o/repos', {
      slug: 'r',
      name: 'R',
      clone_url: repo,
      poll_interval_seconds: 0,
    });
    assert.equal(created.status, 201);
    const token = await api<{ token: string }>('POST', '/workers/tokens', { note: 'restart' });
    worker = await startWorker(url, token.body.token, { name: 'w-restart', tags: ['linux'] });
    const run = await api<RunJson>('POST', '/repos/o/r/cicd/runs', { workflows: [{ name: 'w' }] });
    const log = async (path: string) =>
      (await api<{ logs: string }>('GET', `/repos/o/r/cicd/logs/${run.body.slug}/w/${path}`)).body.logs ?? '';
    await waitFor(
      async () => /before the restart/.test(await log('remote/c')) || undefined,
      'the first line stored',
    );
    await waitFor(
      async () =>
        (await api<RunJson>('GET', `/repos/o/r/cicd/runs/${run.body.slug}`)).body.workflows[0]?.tasks[0]
          ?.cubes[0]?.status === 'processing' || undefined,
      'the store to record the cube as processing',
    );

    first.child.kill('SIGKILL');
    await exited(first.child);
    const second = await serve(dataDir, port);
    children.push(second.child);
    writeFileSync(go, '');

    const ended = await waitFor(
      async () => {
        const got = await api<RunJson>('GET', `/repos/o/r/cicd/runs/${run.body.slug}`);
        return ['success', 'failed', 'canceled', 'timeout'].includes(got.body.status) ? got.body : undefined;
      },
      'the run to end',
      60_000,
    );
    assert.equal(ended.status, 'success', `${JSON.stringify(ended)}\n${worker.output()}\n${second.output()}`);
    const text = await log('remote/c');
    assert.equal(text.match(/before the restart on w-restart/g)?.length, 1, text);
    assert.equal(text.match(/after the restart/g)?.length, 1, text);
    assert.match(await log('next/c'), /next task/);
    assert.match(second.output(), /resuming run/);
    assert.match(worker.output(), /registered with .*[\s\S]*registered with/, 'the worker registered again');
    second.child.kill('SIGTERM');
    assert.equal(await exited(second.child), 0);
  });
});
