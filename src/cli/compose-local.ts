import { randomUUID } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type { EngineDeps } from '../app/run-engine.js';
import { BlobArtifactStore } from '../artifacts/blob-artifact-store.js';
import { FileBlobStore } from '../blob/file-blob-store.js';
import { localExecutors } from '../executors/detect-runtime.js';
import { FileLogStore } from '../logs/file-log-store.js';
import { systemClock } from '../ports/clock.js';
import type { WorkspaceProvider } from '../ports/workspace-provider.js';
import { LOCAL_ISSUER } from './local-connections.js';
import { actionDeps } from '../server/compose-actions.js';
import { openSqliteDb } from '../store/sqlite.js';
import { SqlIdentityStore } from '../store/sql-identity-store.js';
import { SqlRunStore } from '../store/sql-run-store.js';
import type { OidcIssuer } from '../app/id-tokens.js';
import type { ServiceConnection } from '../ports/identity-store.js';
import { loadSecretBox } from '../app/secret-box.js';

export interface LocalSetup {
  stateDir: string;
  artifactsDir: string;
  workspaces: WorkspaceProvider;
  parallelism?: number;
  containerRuntime?: string;
  /** Service connections given on the command line, and the `org/repo` the tokens name. */
  connections?: { byName: Record<string, ServiceConnection>; repoPath: string };
}

/** Wires the adapters of a one-machine run: SQLite, files for logs and artifacts, local executors. */
export async function composeLocal(setup: LocalSetup): Promise<EngineDeps & { issuer?: OidcIssuer }> {
  const { images, ...executors } = localExecutors(process.env, setup.containerRuntime);
  const db = await openSqliteDb(join(setup.stateDir, 'local.db'));
  const connections = setup.connections;
  // Tokens are signed by a key of this repository's state dir (encrypted with its own secret.key).
  // Loaded only when needed: the JOSE library is not part of every `conveyor run`'s start.
  const oidc = connections ? await import('../app/id-tokens.js') : undefined;
  const issuer =
    oidc &&
    new oidc.OidcIssuer(new SqlIdentityStore(db), loadSecretBox(setup.stateDir, process.env), systemClock, {
      issuer: () => process.env.CONVEYOR_OIDC_ISSUER || LOCAL_ISSUER,
      ...oidc.oidcOptions(process.env),
    });
  return {
    ...(oidc && issuer && connections
      ? {
          issuer,
          idTokens: oidc.tokenMinter(
            issuer,
            { id: connections.repoPath, path: connections.repoPath },
            (name) => Promise.resolve(connections.byName[name]),
          ),
        }
      : {}),
    store: new SqlRunStore(db),
    logs: new FileLogStore(join(setup.stateDir, 'logs')),
    artifacts: new BlobArtifactStore(new FileBlobStore(setup.artifactsDir), ''),
    ...executors,
    actions: actionDeps(process.env, join(setup.stateDir, 'actions'), images),
    workspaces: setup.workspaces,
    clock: systemClock,
    newId: randomUUID,
    // Cubes mostly wait on I/O or children; twice the CPUs (at least 4) keeps independent tasks moving.
    parallelism: setup.parallelism ?? Math.max(4, 2 * availableParallelism()),
  };
}
