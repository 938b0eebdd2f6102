import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { CONVEYOR } from '../helpers/cli.js';
import { tempDir } from '../helpers/repo.js';

const ROOT = dirname(dirname(CONVEYOR));

/** A copy of the checkout's launcher (and, when `built`, its bundle) with no node_modules beside it. */
function checkoutWithout(built: boolean): string {
  const dir = tempDir('conveyor-uninstalled-');
  cpSync(join(ROOT, 'bin'), join(dir, 'bin'), { recursive: true });
  cpSync(join(ROOT, 'package.json'), join(dir, 'package.json'));
  if (built) {
    mkdirSync(join(dir, 'dist'));
    cpSync(join(ROOT, 'dist', 'conveyor.mjs'), join(dir, 'dist', 'conveyor.mjs'));
  }
  return dir;
}

describe('bin/conveyor in a checkout whose install step did not run', () => {
  for (const [built, says] of [
    [true, /lacks its dependencies \(\S+ is missing\): run `npm ci` there/],
    [false, /is not built: run `npm ci` there/],
  ] as const) {
    it(
      built
        ? 'without node_modules: one line saying to run npm ci'
        : 'without dist: one line saying to run npm ci',
      () => {
        const dir = checkoutWithout(built);
        const got = spawnSync(join(dir, 'bin', 'conveyor'), ['run'], { cwd: dir, encoding: 'utf8' });
        assert.equal(got.status, 2, got.stderr);
        assert.match(got.stderr, says);
        assert.ok(got.stderr.includes(dir), 'names the checkout');
        assert.doesNotMatch(got.stderr, /\n\s+at |ERR_MODULE_NOT_FOUND/, 'no stack trace');
        assert.equal(got.stderr.trim().split('\n').length, 1);
      },
    );
  }
});
