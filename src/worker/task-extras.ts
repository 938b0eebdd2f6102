import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { RELEASE_DIR_IN_WORKSPACE } from '../app/deploy-engine.js';
import type { TokenValues } from '../app/expression-scope.js';
import type { IdTokenMinter } from '../app/run-engine.js';
import type { WorkspaceProvider } from '../ports/workspace-provider.js';
import type { WorkerClient } from './client.js';

interface Lease {
  taskId: string;
  epoch: number;
  token: string;
}

/** Id tokens (`tokens:`) come from the server, which holds the signing keys; one per task and name. */
export function serverIdTokens(client: WorkerClient, lease: Lease): IdTokenMinter {
  return async ({ token }) => {
    const got = await client.call<TokenValues & { message?: string }>(
      'POST',
      `/worker/v1/tasks/${lease.taskId}/id-token`,
      { token: lease.token, json: { epoch: lease.epoch, name: token } },
    );
    if (got.status !== 200) throw new Error(got.body.message ?? `the server answered ${got.status}`);
    return {
      id_token: got.body.id_token,
      service_account_id: got.body.service_account_id,
      folder_id: got.body.folder_id,
    };
  };
}

/**
 * A deployment job's release artifacts, fetched from the server into the workspace
 * (`.conveyor-release`, as on the server), each file checked against the sha256 the server listed.
 */
export function withRelease(
  provider: WorkspaceProvider,
  client: WorkerClient,
  lease: Lease,
): WorkspaceProvider {
  return {
    async prepare(runId, key, checkout) {
      const dirs = await provider.prepare(runId, key, checkout);
      const base = `/worker/v1/tasks/${lease.taskId}/release`;
      const listing = await client.call<{ files: { path: string; sha256: string }[] }>('GET', base, {
        token: lease.token,
      });
      if (listing.status !== 200) throw new Error(`the release could not be listed: HTTP ${listing.status}`);
      for (const file of listing.body.files) {
        const got = await client.call<Buffer>('GET', `${base}/file?path=${encodeURIComponent(file.path)}`, {
          token: lease.token,
          raw: true,
        });
        const sha256 = Buffer.isBuffer(got.body) ? createHash('sha256').update(got.body).digest('hex') : '';
        if (got.status !== 200 || sha256 !== file.sha256)
          throw new Error(`release file ${file.path} did not arrive intact (HTTP ${got.status})`);
        const target = join(dirs.workspace, RELEASE_DIR_IN_WORKSPACE, file.path);
        await mkdir(dirname(target), { recursive: true });
        await writeFile(target, got.body);
      }
      return dirs;
    },
    release: (dirs) => provider.release(dirs),
  };
}
