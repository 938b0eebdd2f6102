import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '../helpers/cli.js';
import { createNetNamespace, type NetNamespace } from '../helpers/netns.js';
import { sharedRecord, tempRepo } from '../helpers/repo.js';
import { registerRepo, startTestServer, type TestServer } from '../helpers/server.js';
import { startWorker, workerToken, type TestWorker } from '../helpers/workers.js';

interface RunJson {
  slug: string;
  status: string;
  error_messages: string[];
}

const LINES = 240;
/** What the cube prints: one numbered line every 50 ms, the same bytes every run. */
const expected = Array.from(
  { length: LINES },
  (_, i) => `line ${String(i + 1).padStart(4, '0')} of a cube on the far side of a veth pair\n`,
).join('');

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('a worker on a second host across a veth pair, cut off for less than its lease', () => {
  let ns: NetNamespace;
  let t: TestServer;
  let worker: TestWorker | undefined;
  const record = sharedRecord();
  const base = '/repos/acme/app/cicd';

  before(async () => {
    ns = createNetNamespace();
    t = await startTestServer({ host: ns.hostAddress, env: { CONVEYOR_WORKER_LEASE_MS: '30000' } });
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
              - echo "$CONVEYOR_WORKER" >> ${record}
              - for i in $(seq 1 ${LINES}); do printf 'line %04d of a cube on the far side of a veth pair\\n' $i; sleep 0.05; done
`,
      }),
    );
    worker = await startWorker(t.url, await workerToken(t), {
      name: 'far',
      tags: ['far'],
      prefix: ns.exec,
    });
  });
  after(async () => {
    ns?.restore();
    await worker?.stop();
    await t?.close();
    ns?.remove();
  });

  it('completes the task once, with a log byte-identical to what the cube wrote', async () => {
    const run = (await t.api<RunJson>('POST', `${base}/runs`, { workflows: [{ name: 'far' }] })).body;
    const log = async () =>
      (await t.api<{ logs: string }>('GET', `${base}/logs/${run.slug}/far/t/c`)).body.logs;
    await waitFor(async () => (await log()).includes('line 0020') || undefined, 'the cube to print', 30_000);
    ns.cut();
    const cutAt = Date.now();
    await sleep(1000);
    const early = await log();
    await sleep(9000);
    // Nothing crossed the link while it was cut, though the cube kept printing.
    assert.equal(await log(), early, 'no log byte arrived during the cut');
    ns.restore();
    assert.ok(early.length < expected.length / 2, `${early.length} bytes arrived before the cut`);
    const ended = await waitFor(
      async () => {
        const got = await t.api<RunJson>('GET', `${base}/runs/${run.slug}`);
        return ['success', 'failed', 'canceled', 'timeout'].includes(got.body.status) ? got.body : undefined;
      },
      'the run to end',
      60_000,
    );
    assert.ok(Date.now() - cutAt > 10_000);
    assert.equal(ended.status, 'success', `${JSON.stringify(ended)}\n${worker?.output() ?? ''}`);
    assert.deepEqual(ended.error_messages, []);
    assert.equal(await log(), expected);
    assert.equal(readFileSync(record, 'utf8'), 'far\n', 'the task ran once, on the far worker');
    assert.doesNotMatch(worker?.output() ?? '', /stopping it|lease is gone|could not be renewed/);
  });
});
