import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '../helpers/cli.js';
import { processesWith } from '../helpers/processes.js';
import { tempRepo } from '../helpers/repo.js';
import { registerRepo, startTestServer, type TestServer } from '../helpers/server.js';
import { startWorker, workerToken, type TestWorker } from '../helpers/workers.js';

interface RunJson {
  slug: string;
  status: string;
  error_messages: string[];
}

const marker = `${Math.floor(Math.random() * 1e6)}`;
const LEASE_MS = 15_000;

describe('fast expiry: a worker killed with -9', () => {
  let t: TestServer;
  const workers: TestWorker[] = [];
  const base = '/repos/acme/app/cicd';

  before(async () => {
    t = await startTestServer({ env: { CONVEYOR_WORKER_LEASE_MS: String(LEASE_MS) } });
    await registerRepo(
      t,
      tempRepo({
        '.conveyor/ci.yaml': `workflows:
  slow:
    tasks:
      - name: t
        runs_on: [kx]
        cubes:
          - name: c
            script:
              - echo "start on $CONVEYOR_WORKER"
              - if [ "$CONVEYOR_WORKER" = k1 ]; then sleep 4${marker}.1; fi
              - echo "done on $CONVEYOR_WORKER"
`,
      }),
    );
  });
  after(async () => {
    await Promise.all(workers.map((w) => w.stop()));
    await t.close();
    for (const pid of processesWith(marker)) process.kill(pid, 'SIGKILL');
  });

  it('has its task retried on another worker within 5 s, long before the lease runs out', async () => {
    const token = await workerToken(t);
    const k1 = await startWorker(t.url, token, { name: 'k1', tags: ['kx'] });
    workers.push(k1);
    const run = (await t.api<RunJson>('POST', `${base}/runs`, { workflows: [{ name: 'slow' }] })).body;
    const log = async () =>
      (await t.api<{ logs: string }>('GET', `${base}/logs/${run.slug}/slow/t/c`)).body.logs;
    await waitFor(async () => (await log()).includes('start on k1') || undefined, 'the cube to start on k1');
    workers.push(await startWorker(t.url, token, { name: 'k2', tags: ['kx'] }));
    k1.child.kill('SIGKILL');
    await k1.exited;
    const killedAt = Date.now();
    await waitFor(
      async () => (await log()).includes('start on k2') || undefined,
      'the task to start on k2',
      LEASE_MS,
    );
    const took = Date.now() - killedAt;
    assert.ok(took < 5000, `the task ran again ${took} ms after the kill`);
    const ended = await waitFor(
      async () => {
        const got = await t.api<RunJson>('GET', `${base}/runs/${run.slug}`);
        return ['success', 'failed', 'canceled', 'timeout'].includes(got.body.status) ? got.body : undefined;
      },
      'the run to end',
      30_000,
    );
    assert.equal(ended.status, 'success', JSON.stringify(ended));
    assert.ok(
      ended.error_messages.some((m) =>
        /worker k1 lost its lease on the task \(attempt 1 of 2: its connection closed and it did not poll again within 1.5 s\); retried on another worker/.test(
          m,
        ),
      ),
      JSON.stringify(ended.error_messages),
    );
    assert.match(await log(), /start on k1\n.*retried on another worker\nstart on k2\ndone on k2\n$/s);
  });
});
