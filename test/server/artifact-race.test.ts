import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tempRepo } from '../helpers/repo.js';
import { runToEnd } from '../helpers/runs.js';
import { registerRepo, startTestServer, type TestServer } from '../helpers/server.js';

const N = 100;
const SWAP = `import ctypes, os, time
libc = ctypes.CDLL(None, use_errno=True)
for i in range(${N}): os.symlink('/etc', 'link%d' % i)
end = time.time() + 6
while time.time() < end:
    for i in range(${N}):
        libc.renameat2(-100, b'race%d' % i, -100, b'link%d' % i, 2)
`;

const CONFIG = `workflows:
  r:
    tasks:
      - name: t
        cubes:
          - name: c
            script:
              - for i in $(seq 0 ${N - 1}); do mkdir race$i; echo SAFE > race$i/passwd; done
              - printf '%s' "$SWAP" > swap.py
              - nohup python3 swap.py >/dev/null 2>&1 &
              - sleep 0.5
            env:
              SWAP: ${JSON.stringify(SWAP)}
            artifacts:
              paths: [${Array.from({ length: N }, (_, i) => `race${i}/passwd`).join(', ')}]
          - name: wait
            script: [sleep 6]
`;

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

/**
 * The probe's D7: directories swapped for links to /etc while artifacts are collected. Collection
 * reads from the opened file after checking it, so no host file is ever stored.
 */
describe('artifacts: a symlink swapped mid-collection cannot escape', () => {
  let t: TestServer;

  before(async () => {
    t = await startTestServer();
    await registerRepo(t, tempRepo({ '.conveyor/ci.yaml': CONFIG }));
  });
  after(async () => t.close());

  it('stores only the workspace files, refusing the swapped ones', async () => {
    const run = await runToEnd(t, 'acme/app', 'r');
    const artifacts = run.workflows[0]?.tasks[0]?.cubes[0]?.artifacts ?? [];
    assert.equal(artifacts.length, N, JSON.stringify(run));
    const stored = files(join(t.dataDir, 'artifacts'));
    for (const file of stored) assert.equal(readFileSync(file, 'utf8'), 'SAFE\n', file);
    const failed = artifacts.filter((a) => a.status === 'failed');
    for (const a of failed)
      assert.match(a.error ?? '', /outside the workspace|not a regular file|ENOENT|symlink/);
    assert.equal(stored.length, N - failed.length, 'a failed artifact leaves no file behind');
  });
});
