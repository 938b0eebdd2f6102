import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync } from 'node:fs';
import { dirname } from 'node:path';
import type { RunSummary } from '../helpers/runs.js';
import type { TestServer } from '../helpers/server.js';
import { sha } from './blob-store-contract.js';

const BIG = 12 * 1024 * 1024; // over the S3 driver's 8 MiB part size: a multipart upload

/** Two tasks, one in-process and one on a worker, each storing a big file and a directory once `gate` exists. */
export function artifactConfig(gate: string): string {
  chmodSync(dirname(gate), 0o755); // cubes run as the cube user: it must see the gate appear
  const cube = `
          - name: make
            script:
              - while [ ! -f ${gate} ]; do sleep 0.05; done
              - mkdir -p out/sub && head -c ${BIG} /dev/urandom > out/big.bin && echo small > out/sub/small.txt
            artifacts:
              paths: [out/big.bin, out/sub]`;
  return `
workflows:
  build:
    tasks:
      - name: here
        cubes:${cube}
      - name: remote
        runs_on: [self-hosted, linux]
        cubes:${cube}
`;
}

type Artifact = RunSummary['workflows'][0]['tasks'][0]['cubes'][0]['artifacts'][0] & {
  files: { path: string; size: number; sha256: string }[];
  download_url: string;
};

/** Each task's artifacts, checked downloaded: the big file's bytes hash as recorded, the directory as a tar. */
export async function checkArtifacts(t: TestServer, slug: string): Promise<Record<string, Artifact[]>> {
  const out: Record<string, Artifact[]> = {};
  for (const task of ['here', 'remote']) {
    const got = await t.api<{ artifacts: Artifact[] }>(
      'GET',
      `/repos/acme/app/cicd/artifacts/${slug}/build/${task}/make`,
    );
    assert.equal(got.status, 200, JSON.stringify(got.body));
    const [big, dir] = got.body.artifacts;
    assert.equal(big?.status, 'success', JSON.stringify(big));
    assert.equal(dir?.status, 'success', JSON.stringify(dir));
    assert.equal(big.files[0]?.size, BIG);
    const bytes = Buffer.from(await (await fetch(big.download_url)).arrayBuffer());
    assert.equal(sha(bytes), big.files[0]?.sha256, `${task}: the downloaded bytes are the stored ones`);
    const tar = await fetch(dir.download_url);
    assert.equal(tar.status, 200);
    const listing = execFileSync('tar', ['-tzf', '-'], { input: Buffer.from(await tar.arrayBuffer()) });
    assert.match(listing.toString(), /small\.txt/);
    out[task] = got.body.artifacts;
  }
  return out;
}
