import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tempRepo } from '../helpers/repo.js';
import { runToEnd } from '../helpers/runs.js';
import { registerRepo, startTestServer, type TestServer } from '../helpers/server.js';

const ROOT = process.getuid?.() === 0;

const CONFIG = `workflows:
  flood:
    tasks:
      - name: t
        cubes:
          - name: c
            script:
              - for i in $(seq 1 400); do head -c 4096 /dev/zero | tr '\\\\0' a; echo " line $i"; done
  quiet:
    tasks: [{name: t, cubes: [{name: c, script: ["echo one line"]}]}]
`;

/**
 * The probe's D2: a log write error (storage full, or not writable) used to throw out of the
 * output callback and end the whole server. Now it fails the cube with a message, and the server
 * keeps answering. The storage is a small tmpfs mounted over the logs folder.
 */
describe('storage errors fail the cube, never the server', { skip: !ROOT && 'needs root (mount)' }, () => {
  let t: TestServer;
  let logs = '';

  before(async () => {
    t = await startTestServer();
    logs = join(t.dataDir, 'logs');
    await registerRepo(t, tempRepo({ '.conveyor/ci.yaml': CONFIG }));
  });
  after(async () => {
    await t.close();
    try {
      execFileSync('umount', ['-l', logs], { stdio: 'ignore' });
    } catch {
      // not mounted any more: the tests unmount what they mount
    }
  });

  it('a log storage that fills up fails the cube with a message', async () => {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', logs]);
    const run = await runToEnd(t, 'acme/app', 'flood');
    const cube = run.workflows[0]?.tasks[0]?.cubes[0];
    assert.equal(run.status, 'failed', JSON.stringify(run));
    assert.match(cube?.error_message ?? '', /the log could not be written \(ENOSPC/);
    assert.equal((await t.api('GET', '/healthz', undefined, null)).status, 200);
    execFileSync('umount', [logs]);
  });

  it('a log folder that cannot be written fails the cube, and later runs still run', async () => {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=64k', 'tmpfs', logs]);
    const run = await runToEnd(t, 'acme/app', 'quiet');
    assert.equal(run.status, 'failed', JSON.stringify(run));
    assert.match(
      run.workflows[0]?.tasks[0]?.cubes[0]?.error_message ?? '',
      /the log could not be written \(E[A-Z]+/,
    );
    execFileSync('umount', [logs]);
    const again = await runToEnd(t, 'acme/app', 'quiet');
    assert.equal(again.status, 'success', JSON.stringify(again));
  });
});
