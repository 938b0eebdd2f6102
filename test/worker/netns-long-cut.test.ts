import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '../helpers/cli.js';
import { createNetNamespace, type NetNamespace } from '../helpers/netns.js';
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
const LEASE_MS = 6000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('a worker on a second host cut off for longer than its lease', () => {
  let ns: NetNamespace;
  let t: TestServer;
  const workers: TestWorker[] = [];
  const base = '/repos/acme/app/cicd';

  before(async () => {
    ns = createNetNamespace();
    t = await startTestServer({ host: ns.hostAddress, env: { CONVEYOR_WORKER_LEASE_MS: String(LEASE_MS) } });
    await registerRepo(
      t,
      tempRepo({
        '.conveyor/ci.yaml': `workflows:
  far:
    tasks:
      - name: t
        runs_on: [far]
        cubes:
          - name: c
            script:
              - echo "start on $CONVEYOR_WORKER"
              - if [ "$CONVEYOR_WORKER" = far ]; then sleep 3${marker}.1 & for i in $(seq 1 100000); do echo "far tick $i"; sleep 0.2${marker}; done; fi
              - echo "done on $CONVEYOR_WORKER"
`,
      }),
    );
  });
  after(async () => {
    ns?.restore();
    await Promise.all(workers.map((w) => w.stop()));
    await t?.close();
    ns?.remove();
    for (const pid of processesWith(marker)) process.kill(pid, 'SIGKILL');
  });

  it('retries the task on another worker; the cut-off worker stops it and writes nothing more', async () => {
    const token = await workerToken(t);
    const far = await startWorker(t.url, token, { name: 'far', tags: ['far'], prefix: ns.exec });
    workers.push(far);
    const run = (await t.api<RunJson>('POST', `${base}/runs`, { workflows: [{ name: 'far' }] })).body;
    const log = async () =>
      (await t.api<{ logs: string }>('GET', `${base}/logs/${run.slug}/far/t/c`)).body.logs;
    await waitFor(async () => (await log()).includes('far tick 3') || undefined, 'the cube to print', 30_000);
    ns.cut();
    const cutAt = Date.now();
    workers.push(await startWorker(t.url, token, { name: 'near', tags: ['far'] }));
    // The far worker stops the task itself before the server can hand it on: its processes end.
    await waitFor(
      () => (/could not be renewed .*stopping it/.test(far.output()) ? true : undefined),
      'the far worker to fence itself',
      LEASE_MS + 5000,
    );
    await waitFor(() => processesWith(marker).length === 0 || undefined, 'the far cube to end', 5000);
    const ended = await waitFor(
      async () => {
        const got = await t.api<RunJson>('GET', `${base}/runs/${run.slug}`);
        return ['success', 'failed', 'canceled', 'timeout'].includes(got.body.status) ? got.body : undefined;
      },
      'the run to end',
      60_000,
    );
    assert.ok(Date.now() - cutAt >= (LEASE_MS * 2) / 3, 'the task moved on only after the lease');
    assert.equal(ended.status, 'success', `${JSON.stringify(ended)}\n${far.output()}`);
    assert.ok(
      ended.error_messages.some((m) =>
        /worker far lost its lease .*attempt 1 of 2: no heartbeat for 6 s\); retried on another worker/.test(
          m,
        ),
      ),
      JSON.stringify(ended.error_messages),
    );
    const complete =
      /^start on far\nfar tick 1\n(far tick \d+\n)*.*retried on another worker\nstart on near\ndone on near\n$/;
    // The log view may trail the run's end by a moment.
    const stored = await waitFor(
      async () => {
        const got = await log();
        return complete.test(got) ? got : undefined;
      },
      'the log of both attempts',
      5000,
    ).catch(async (error: unknown) => {
      throw new Error(`${String(error)}: ${JSON.stringify(await log())}`);
    });
    // The link comes back: what the far worker still had in flight is refused (409), nothing lands.
    ns.restore();
    await waitFor(
      () => (/refused .*the lease is gone/.test(far.output()) ? true : undefined),
      'the far worker to be refused',
      30_000,
    );
    await sleep(1000);
    assert.equal(await log(), stored);
    assert.equal((await t.api<RunJson>('GET', `${base}/runs/${run.slug}`)).body.status, 'success');
  });
});
