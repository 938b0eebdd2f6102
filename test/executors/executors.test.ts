import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, describe, it } from 'node:test';
import { ContainerExecutor } from '../../src/executors/container-executor.js';
import { LocalProcessExecutor } from '../../src/executors/local-process-executor.js';
import { CONTAINER_ENV, TEST_IMAGE, waitFor } from '../helpers/cli.js';
import { processesWith } from '../helpers/processes.js';
import { executorContract } from './executor-contract.js';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers/repo.js';
import { splitArgs } from '../../src/executors/detect-runtime.js';

const local = new LocalProcessExecutor({ killGraceMs: 2000 });
executorContract('local process', local, {
  workdir: (root) => `${root}/workspace`,
  envFile: (root) => `${root}/data/x.env`,
});

const launched = new LocalProcessExecutor({ killGraceMs: 2000, launcher: true });
executorContract('local process through the bash launcher', launched, {
  workdir: (root) => `${root}/workspace`,
  envFile: (root) => `${root}/data/x.env`,
});
after(() => launched.close());

const podman = new ContainerExecutor({
  runtime: 'podman',
  runArgs: splitArgs(CONTAINER_ENV.CONVEYOR_CONTAINER_RUN_ARGS),
  killGraceMs: 2000,
});
executorContract('podman', podman, {
  image: { name: TEST_IMAGE },
  workdir: () => '/sourcecraft/workspace',
  envFile: () => '/sourcecraft/data/x.env',
});

describe('local process executor', () => {
  for (const [name, executor] of [
    ['direct', local],
    ['launcher', launched],
  ] as const) {
    it(`ends background processes when asked, at the end of the task (${name})`, async () => {
      const root = tempDir();
      const marker = `${Math.floor(Math.random() * 1e6)}.875`;
      const p = executor.start({
        // The script waits until the child has exec'd `sleep`: right after the fork it is still a
        // `bash` and the check below could not see it.
        script: [
          `sleep ${marker} >/dev/null 2>&1 &`,
          'until read -r -d "" c < /proc/$!/cmdline && [ "$c" = sleep ]; do :; done',
          'echo started',
        ].join('\n'),
        env: {},
        taskRoot: root,
        workspace: root,
        dataDir: root,
        key: 'k',
        timeoutMs: 10_000,
        onOutput: () => undefined,
      });
      assert.deepEqual(await p.done, { kind: 'exited', code: 0 });
      assert.equal(
        processesWith(`sleep ${marker}`).length,
        1,
        'the background process outlives the cube until its task ends',
      );
      p.killLeftovers();
      await waitFor(() => processesWith(`sleep ${marker}`).length === 0 || undefined, 'the leftover to end');
    });
  }

  it('launcher: reports a missing workspace as a failure, and keeps working', async () => {
    const chunks: Buffer[] = [];
    const p = launched.start({
      script: 'true',
      env: {},
      taskRoot: '/nonexistent',
      workspace: '/nonexistent/ws',
      dataDir: '/nonexistent',
      key: 'k',
      timeoutMs: 10_000,
      onOutput: (c) => chunks.push(c),
    });
    assert.deepEqual(await p.done, { kind: 'exited', code: 126 });
    assert.match(Buffer.concat(chunks).toString(), /the workspace \/nonexistent\/ws does not exist/);
    const root = tempDir();
    const q = launched.start({
      script: "printf 'a\\0b'; echo",
      env: { Q: "it's" },
      taskRoot: root,
      workspace: root,
      dataDir: root,
      key: 'k',
      timeoutMs: 10_000,
      onOutput: (c) => chunks.push(c),
    });
    assert.deepEqual(await q.done, { kind: 'exited', code: 0 });
  });

  it('launcher: passes values with quotes, newlines and unicode exactly', async () => {
    const root = tempDir();
    const chunks: Buffer[] = [];
    const value = 'it\'s "quoted"\nsecond line $HOME `x` \\ ünï';
    const p = launched.start({
      script: 'printf %s "$TRICKY"',
      env: { TRICKY: value },
      taskRoot: root,
      workspace: root,
      dataDir: root,
      key: 'k',
      timeoutMs: 10_000,
      onOutput: (c) => chunks.push(c),
    });
    assert.deepEqual(await p.done, { kind: 'exited', code: 0 });
    assert.equal(Buffer.concat(chunks).toString(), value);
  });

  it('runs scripts too large for the environment from a file', async () => {
    const root = tempDir();
    const chunks: Buffer[] = [];
    const big = `# ${'x'.repeat(200_000)}\necho big-ok`;
    const p = local.start({
      script: big,
      env: {},
      taskRoot: root,
      workspace: root,
      dataDir: root,
      key: 'k',
      timeoutMs: 10_000,
      onOutput: (c) => chunks.push(c),
    });
    assert.deepEqual(await p.done, { kind: 'exited', code: 0 });
    assert.equal(Buffer.concat(chunks).toString(), 'big-ok\n');
  });

  it('does not leak the script into the environment of child processes', async () => {
    const root = tempDir();
    const chunks: Buffer[] = [];
    const p = local.start({
      script: 'env | grep -c __CONVEYOR_SCRIPT || true',
      env: {},
      taskRoot: root,
      workspace: root,
      dataDir: root,
      key: 'k',
      timeoutMs: 10_000,
      onOutput: (c) => chunks.push(c),
    });
    await p.done;
    assert.equal(Buffer.concat(chunks).toString().trim(), '0');
  });

  it('reports a start failure as an error, not a crash', async () => {
    const p = local.start({
      script: 'true',
      env: {},
      taskRoot: '/nonexistent',
      workspace: '/nonexistent/ws',
      dataDir: '/nonexistent',
      key: 'k',
      timeoutMs: 10_000,
      onOutput: () => undefined,
    });
    const exit = await p.done;
    assert.equal(exit.kind, 'error');
  });
});

describe('container executor', () => {
  it('leaves no container behind after a cancel', async () => {
    const root = tempDir();
    mkdirSync(join(root, 'workspace'));
    const before = execFileSync('podman', ['ps', '-q']).toString().trim();
    const p = podman.start({
      script: 'sleep 300',
      env: {},
      taskRoot: root,
      workspace: join(root, 'workspace'),
      dataDir: root,
      key: 'k',
      image: { name: TEST_IMAGE },
      timeoutMs: 60_000,
      onOutput: () => undefined,
    });
    await waitFor(
      () => execFileSync('podman', ['ps', '-q']).toString().trim() !== before || undefined,
      'the container to start',
      15_000,
    );
    p.cancel();
    assert.deepEqual(await p.done, { kind: 'canceled' });
    await waitFor(
      () => execFileSync('podman', ['ps', '-q']).toString().trim() === before || undefined,
      'the container to be removed',
      15_000,
    );
  });
});
