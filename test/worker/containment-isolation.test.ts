import assert from 'node:assert/strict';
import { chmodSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '../helpers/cli.js';
import { tempDir, tempRepo } from '../helpers/repo.js';
import { registerRepo, startTestServer, type TestServer } from '../helpers/server.js';
import { startWorker, workerToken, type TestWorker } from '../helpers/workers.js';

interface RunJson {
  slug: string;
  status: string;
  error_messages: string[];
}

/**
 * Two tasks of one run on one root worker, at the same time: `holder` keeps a file in its
 * workspace and says where; `peeker` tries to read it, the worker's state, spool and cache, and the
 * worker token anywhere in /proc.
 */
function config(shared: string): string {
  return `workflows:
  peek:
    tasks:
      - name: holder
        runs_on: [iso]
        cubes:
          - name: c
            script:
              - echo private-contents > mine.txt && chmod 644 mine.txt
              - pwd > ${shared}/holder-path
              - for i in $(seq 300); do [ -e ${shared}/peeker-done ] && break; sleep 0.1; done
      - name: peeker
        runs_on: [iso]
        cubes:
          - name: c
            script:
              - echo "uid=$(id -u)"
              - for i in $(seq 300); do [ -s ${shared}/holder-path ] && break; sleep 0.1; done
              - other=$(cat ${shared}/holder-path)
              - W=$(cd ../../.. && pwd)
              - for d in state spool cache tasks; do ls "$W/$d" > /dev/null 2>&1 && echo "LISTED $d" || echo "denied $d"; done
              - cat "$W/state/cgroup-parent" > /dev/null 2>&1 && echo "READ state file" || echo "denied state file"
              - ls "$other" > /dev/null 2>&1 && echo "LISTED other" || echo "denied other dir"
              - cat "$other/mine.txt" 2>/dev/null || echo "denied other file"
              - echo "token in env $(env | grep -c cvw_ || true)"
              - cat /proc/[0-9]*/environ /proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' '\\n' | grep -o 'cvw_[A-Za-z0-9_-]*' | sort -u || true
              - touch ${shared}/peeker-done
`;
}

describe('worker isolation (root worker): cubes cannot read the worker token, its state or another task', () => {
  let t: TestServer;
  let token: string;
  const workers: TestWorker[] = [];
  const base = '/repos/acme/app';
  const shared = tempDir();
  chmodSync(shared, 0o777);

  before(async () => {
    t = await startTestServer();
    await registerRepo(t, tempRepo({ '.conveyor/ci.yaml': config(shared) }));
    token = await workerToken(t);
  });
  after(async () => {
    await Promise.all(workers.map((w) => w.stop()));
    await t.close();
  });

  it('runs cubes as a slot user per task: no token in env, /proc environ or cmdline; no state, spool, cache or other workspace', async () => {
    assert.equal(process.getuid?.(), 0, 'this test runs as root, as CI does');
    const worker = await startWorker(t.url, token, {
      name: 'iso1',
      tags: ['iso'],
      slots: 2,
      env: { CONVEYOR_WORKER_TOKEN: token },
    });
    workers.push(worker);
    const run = (await t.api<RunJson>('POST', `${base}/cicd/runs`, { workflows: [{ name: 'peek' }] })).body;
    const ended = await waitFor(
      async () => {
        const got = await t.api<RunJson>('GET', `${base}/cicd/runs/${run.slug}`);
        return ['success', 'failed', 'canceled'].includes(got.body.status) ? got.body : undefined;
      },
      `run ${run.slug} to end`,
      60_000,
    );
    assert.equal(ended.status, 'success', `${JSON.stringify(ended)}\n${worker.output()}`);
    const logOf = async () =>
      (await t.api<{ logs: string }>('GET', `${base}/cicd/logs/${run.slug}/peek/peeker/c`)).body.logs;
    const log = await waitFor(async () => {
      const got = await logOf();
      return got.includes('token in env') ? got : undefined;
    }, 'the peeker log');
    const uid = Number(/uid=(\d+)/.exec(log)?.[1]);
    assert.ok(Number.isInteger(uid) && uid !== 0, log);
    for (const d of ['state', 'spool', 'cache', 'tasks'])
      assert.match(log, new RegExp(`denied ${d}\\n`), log);
    assert.match(log, /denied state file\n/);
    assert.match(log, /denied other dir\n/);
    assert.match(log, /denied other file\n/);
    assert.doesNotMatch(log, /private-contents/);
    assert.match(log, /token in env 0\n/);
    assert.ok(!log.includes(token), `the worker token is readable by a cube:\n${log}`);
  });
});
