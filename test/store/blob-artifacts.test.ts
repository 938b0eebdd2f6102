import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tempDir, tempRepo } from '../helpers/repo.js';
import { runEnded, type RunSummary } from '../helpers/runs.js';
import { S3Server, S3_ENV } from '../helpers/s3.js';
import { registerRepo, startTestServer, type TestServer } from '../helpers/server.js';
import { startWorker, workerToken, type TestWorker } from '../helpers/workers.js';
import { artifactConfig, checkArtifacts } from './blob-artifact-fixtures.js';
import { readAll } from './blob-store-contract.js';

const s3 = await S3Server.start();

describe('artifacts in an S3 blob store (s3rver), from the server and from a worker', () => {
  let t: TestServer;
  let worker: TestWorker;
  const gate = join(tempDir(), 'go');

  before(async () => {
    t = await startTestServer({ blobStore: s3.url('ci'), env: S3_ENV });
    await registerRepo(t, tempRepo({ '.conveyor/ci.yaml': artifactConfig(gate) }));
    worker = await startWorker(t.url, await workerToken(t), { name: 'w-s3', tags: ['linux'] });
  });
  after(async () => {
    await worker?.stop();
    await t?.close();
  });

  it('stores them in the bucket (big files in parts, sha256 kept) and links files to presigned S3 URLs', async () => {
    writeFileSync(gate, '');
    const started = await t.api<RunSummary>('POST', '/repos/acme/app/cicd/runs', {
      workflows: [{ name: 'build' }],
    });
    const run = await runEnded(t, 'acme/app', started.body.slug, 60_000).catch(async (error) => {
      const now = await t.api('GET', `/repos/acme/app/cicd/runs/${started.body.slug}`);
      throw new Error(`${String(error)}: ${JSON.stringify(now.body)}\n${worker.output()}`);
    });
    assert.equal(run.status, 'success', `${JSON.stringify(run)}\n${worker.output()}`);
    const artifacts = await checkArtifacts(t, run.slug);
    for (const task of ['here', 'remote']) {
      const [big, dir] = artifacts[task] ?? [];
      assert.ok(big?.download_url.startsWith(`${s3.endpoint}/conveyor/ci/artifacts/`), big?.download_url);
      assert.match(big?.download_url ?? '', /X-Amz-Signature=/);
      assert.ok(dir?.download_url.startsWith(t.url), 'a directory is served by the server, as a tar');
    }
    const store = s3.store('ci/');
    const keys: string[] = [];
    for await (const info of store.list('artifacts/')) keys.push(info.key);
    assert.equal(keys.filter((k) => k.endsWith(`/${run.slug}/build/here/make/out/big.bin`)).length, 1);
    assert.equal(
      keys.filter((k) => k.endsWith(`/${run.slug}/build/remote/make/out/sub/small.txt`)).length,
      1,
    );
    const small = keys.find((k) => k.endsWith('here/make/out/sub/small.txt')) ?? '';
    assert.equal((await readAll(await store.get(small))).toString(), 'small\n');
    store.close();
  });
});
