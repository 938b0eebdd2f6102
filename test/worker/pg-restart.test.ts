import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { waitFor } from '../helpers/cli.js';
import { startPgCluster, type PgCluster } from '../helpers/pg-cluster.js';
import { tempDir, tempRepo } from '../helpers/repo.js';
import { registerRepo, startTestServer, type TestServer } from '../helpers/server.js';
import { startWorker, workerToken, type TestWorker } from '../helpers/workers.js';

interface RunJson {
  slug: string;
  status: string;
  error_messages: string[];
  workflows: { tasks: { cubes: { status: string }[] }[] }[];
}

/**
 * PostgreSQL restarted while a worker runs a task: requests answer 503 while it is down, the
 * servers recover by themselves (pool, LISTEN connection), no lease expires because of the outage,
 * and the run finishes.
 */
describe('PostgreSQL restarted mid-run', () => {
  let cluster: PgCluster;
  let url = '';
  let a: TestServer;
  let b: TestServer;
  let worker: TestWorker;
  const go = join(tempDir(), 'go');
  const base = '/repos/acme/app/cicd';
  const env = { CONVEYOR_WORKER_POLL_BACKSTOP_MS: '600000' };

  before(async () => {
    // The test's own PostgreSQL: restarting the machine's would break every suite running beside it.
    cluster = await startPgCluster();
    url = cluster.url;
    // Replicas share one blob store: an ended log is an object there, which B reads too.
    const blobStore = `file://${tempDir('conveyor-blobs-')}`;
    a = await startTestServer({ databaseUrl: url, env, blobStore });
    b = await startTestServer({ databaseUrl: url, env, blobStore, concurrency: 0 });
    await registerRepo(
      a,
      tempRepo({
        '.conveyor/ci.yaml': `workflows:
  w:
    tasks:
      - name: remote
        runs_on: [linux]
        cubes:
          - name: c
            script:
              - echo "before the outage"
              - while [ ! -e ${go} ]; do sleep 0.1; done
              - echo "after the outage"
  quick:
    tasks:
      - name: remote
        runs_on: [linux]
        cubes: [{name: c, script: ["echo quick"]}]
`,
      }),
    );
    worker = await startWorker(b.url, await workerToken(a), { name: 'w-pg', tags: ['linux'] });
  });
  after(async () => {
    await worker.stop();
    await a.close();
    await b.close();
    await cluster.stop();
  });

  const ended = (slug: string) =>
    waitFor(
      async () => {
        const got = await a.api<RunJson>('GET', `${base}/runs/${slug}`);
        return ['success', 'failed', 'canceled', 'timeout'].includes(got.body.status) ? got.body : undefined;
      },
      `run ${slug} to end`,
      60_000,
    );

  it('answers 503 while it is down, then finishes the run with no lease lost', async () => {
    const run = await a.api<RunJson>('POST', `${base}/runs`, { workflows: [{ name: 'w' }] });
    await waitFor(
      async () =>
        /before the outage/.test(
          (await b.api<{ logs: string }>('GET', `${base}/logs/${run.body.slug}/w/remote/c`)).body.logs ?? '',
        ) || undefined,
      'the first line stored',
      30_000,
    );
    await waitFor(
      async () =>
        (await a.api<RunJson>('GET', `${base}/runs/${run.body.slug}`)).body.workflows[0]?.tasks[0]?.cubes[0]
          ?.status === 'processing' || undefined,
      'the store to record the cube as processing',
    );

    const statuses = new Set<number>();
    let restarting = true;
    const probe = (async () => {
      while (restarting) {
        for (const t of [a, b])
          statuses.add((await t.api('GET', '/workers').catch(() => ({ status: 0 }))).status);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    await cluster.restart().finally(() => (restarting = false));
    await probe;
    assert.ok(statuses.has(503), `requests answered 503 during the outage: ${[...statuses].join(', ')}`);
    assert.ok(!statuses.has(500), `no 500: ${[...statuses].join(', ')}`);

    writeFileSync(go, '');
    const done = await ended(run.body.slug);
    assert.equal(done.status, 'success', `${JSON.stringify(done)}\n${worker.output()}`);
    assert.doesNotMatch(done.error_messages.join('\n'), /lost its lease/);
    const log = (await b.api<{ logs: string }>('GET', `${base}/logs/${run.body.slug}/w/remote/c`)).body.logs;
    assert.equal(log.match(/before the outage/g)?.length, 1, log);
    assert.equal(log.match(/after the outage/g)?.length, 1, log);
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const attempts = await client
      .query<{ attempt: number }>('select attempt from worker_tasks')
      .finally(() => client.end());
    assert.deepEqual(
      attempts.rows.map((r) => r.attempt),
      [1],
      'the task ran once',
    );

    // The LISTEN connections came back: a task queued on A wakes the worker held on B again.
    const quick = await a.api<RunJson>('POST', `${base}/runs`, { workflows: [{ name: 'quick' }] });
    const startedAt = Date.now();
    assert.equal((await ended(quick.body.slug)).status, 'success');
    assert.ok(Date.now() - startedAt < 10_000, 'dispatched by a wake-up, not by the next poll');
  });
});
