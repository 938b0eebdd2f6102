import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '../helpers/cli.js';
import { tempDir, tempRepo } from '../helpers/repo.js';
import { runEnded, type RunSummary } from '../helpers/runs.js';
import { S3Server, S3_ENV } from '../helpers/s3.js';
import { registerRepo, startTestServer, type TestServer } from '../helpers/server.js';
import { startWorker, workerToken, type TestWorker } from '../helpers/workers.js';
import { artifactConfig, checkArtifacts } from './blob-artifact-fixtures.js';

const s3 = await S3Server.start();

describe('fault: the S3 server stops while artifacts upload', () => {
  let t: TestServer;
  let worker: TestWorker;
  const gate = join(tempDir(), 'go');

  before(async () => {
    t = await startTestServer({ blobStore: s3.url('ci'), env: S3_ENV });
    await registerRepo(t, tempRepo({ '.conveyor/ci.yaml': artifactConfig(gate) }));
    worker = await startWorker(t.url, await workerToken(t), { name: 'w-fault', tags: ['linux'] });
  });
  after(async () => {
    await worker?.stop();
    await t?.close();
  });

  it('tasks finish once it is back: uploads were retried, nothing is lost, downloads work again', async () => {
    const started = await t.api<RunSummary>('POST', '/repos/acme/app/cicd/runs', {
      workflows: [{ name: 'build' }],
    });
    const slug = started.body.slug;
    await waitFor(
      async () => {
        const run = await t.api<RunSummary>('GET', `/repos/acme/app/cicd/runs/${slug}`);
        const cubes = run.body.workflows[0]?.tasks.map((x) => x.cubes[0]?.status) ?? [];
        return cubes.length === 2 && cubes.every((s) => s === 'processing') ? true : undefined;
      },
      'both cubes to run',
      20_000,
    );
    await s3.stop(); // SIGKILL: connections refused from here on
    writeFileSync(gate, ''); // the cubes write their artifacts now, into the outage
    await waitFor(
      () => (worker.output().includes('HTTP 503') ? true : undefined),
      'the worker to be told to retry (503)',
      20_000,
    );
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const during = await t.api<RunSummary>('GET', `/repos/acme/app/cicd/runs/${slug}`);
    assert.equal(during.body.status, 'processing', 'nothing ends while the store is down');
    await s3.start();
    const run = await runEnded(t, 'acme/app', slug, 90_000);
    assert.equal(run.status, 'success', `${JSON.stringify(run)}\n${worker.output()}`);
    await checkArtifacts(t, slug);
  });
});
