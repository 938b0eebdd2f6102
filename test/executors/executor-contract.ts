import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { ImageDef } from '../../src/core/config/model.js';
import type { CubeProcessSpec, Executor } from '../../src/ports/executor.js';
import { waitFor } from '../helpers/cli.js';
import { processesWith } from '../helpers/processes.js';
import { tempDir } from '../helpers/repo.js';

function spec(
  script: string,
  image: ImageDef | undefined,
  extra: Partial<CubeProcessSpec> = {},
): CubeProcessSpec & { output: () => string } {
  const root = tempDir('conveyor-exec-');
  mkdirSync(join(root, 'workspace'));
  mkdirSync(join(root, 'data'));
  const chunks: Buffer[] = [];
  return {
    script,
    env: { CUBE_VAR: 'from-config', SOURCECRAFT_ENV: join(root, 'data', 'x.env') },
    taskRoot: root,
    workspace: join(root, 'workspace'),
    dataDir: join(root, 'data'),
    key: 'cube-0',
    ...(image ? { image } : {}),
    timeoutMs: 20_000,
    onOutput: (c) => chunks.push(c),
    output: () => Buffer.concat(chunks).toString(),
    ...extra,
  };
}

/** What every Executor must do; run against the local process executor and podman. */
export function executorContract(
  name: string,
  executor: Executor,
  options: { image?: ImageDef; workdir: (root: string) => string; envFile: (root: string) => string },
): void {
  describe(`Executor contract: ${name}`, () => {
    it('reports the exit code and captures stdout and stderr in order', async () => {
      const s = spec('echo one\necho two >&2\necho three\nexit 3', options.image);
      assert.deepEqual(await executor.start(s).done, { kind: 'exited', code: 3 });
      assert.equal(s.output(), 'one\ntwo\nthree\n');
    });

    it('stops at the first failing command (set -e)', async () => {
      const s = spec('echo before\nfalse\necho after', options.image);
      assert.deepEqual(await executor.start(s).done, { kind: 'exited', code: 1 });
      assert.equal(s.output(), 'before\n');
    });

    it('runs in the workspace with the cube variables', async () => {
      const s = spec('pwd\necho "$CUBE_VAR"\necho "$SOURCECRAFT_ENV"', options.image);
      assert.deepEqual(await executor.start(s).done, { kind: 'exited', code: 0 });
      assert.equal(
        s.output(),
        `${options.workdir(s.taskRoot)}\nfrom-config\n${options.envFile(s.taskRoot)}\n`,
      );
    });

    it('delivers large output completely', async () => {
      const s = spec(
        'i=0; while [ $i -lt 20000 ]; do echo "line $i of some output"; i=$((i+1)); done',
        options.image,
      );
      assert.deepEqual(await executor.start(s).done, { kind: 'exited', code: 0 });
      const lines = s.output().split('\n');
      assert.equal(lines.length, 20001);
      assert.equal(lines[19999], 'line 19999 of some output');
    });

    it('ends the whole process tree on timeout', async () => {
      const marker = `${Math.floor(Math.random() * 1e6)}.25`;
      const s = spec(`sleep ${marker} &\nsleep ${marker}`, options.image, { timeoutMs: 1500 });
      const started = Date.now();
      const p = executor.start(s);
      await waitFor(
        () => processesWith(`sleep ${marker}`).length >= 2 || undefined,
        'the cube processes to start',
        15_000,
      );
      assert.deepEqual(await p.done, { kind: 'timeout' });
      assert.ok(Date.now() - started < 12_000, 'timeout took too long');
      await waitFor(
        () => processesWith(`sleep ${marker}`).length === 0 || undefined,
        'every process of the cube to end',
        10_000,
      );
    });

    it('ends the whole process tree on cancel', async () => {
      const marker = `${Math.floor(Math.random() * 1e6)}.5`;
      const s = spec(`sleep ${marker} &\nsleep ${marker}`, options.image);
      const p = executor.start(s);
      await waitFor(
        () => processesWith(`sleep ${marker}`).length >= 2 || undefined,
        'the cube processes to start',
        15_000,
      );
      p.cancel();
      assert.deepEqual(await p.done, { kind: 'canceled' });
      await waitFor(
        () => processesWith(`sleep ${marker}`).length === 0 || undefined,
        'every process of the cube to end',
        10_000,
      );
    });
  });
}
