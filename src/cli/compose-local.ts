import { randomUUID } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type { ActionDeps } from '../app/actions/run-action.js';
import type { EngineDeps } from '../app/run-engine.js';
import type { ImageBuilder } from '../ports/action-source.js';
import { DEFAULT_ACTIONS_URL, GitActionSource } from '../workspace/action-cache.js';
import { LocalArtifactStore } from '../artifacts/local-artifact-store.js';
import { localExecutors } from '../executors/detect-runtime.js';
import { FileLogStore } from '../logs/file-log-store.js';
import { systemClock } from '../ports/clock.js';
import type { WorkspaceProvider } from '../ports/workspace-provider.js';
import { openSqliteRunStore } from '../store/sqlite.js';

export interface LocalSetup {
  stateDir: string;
  artifactsDir: string;
  workspaces: WorkspaceProvider;
  parallelism?: number;
  containerRuntime?: string;
}

/** Wires the adapters of a one-machine run: SQLite, files for logs and artifacts, local executors. */
export async function composeLocal(setup: LocalSetup): Promise<EngineDeps> {
  const { images, ...executors } = localExecutors(process.env, setup.containerRuntime);
  return {
    store: await openSqliteRunStore(join(setup.stateDir, 'local.db')),
    logs: new FileLogStore(join(setup.stateDir, 'logs')),
    artifacts: new LocalArtifactStore(setup.artifactsDir),
    ...executors,
    actions: actionDeps(process.env, join(setup.stateDir, 'actions'), images),
    workspaces: setup.workspaces,
    clock: systemClock,
    newId: randomUUID,
    // Cubes mostly wait on I/O or children; twice the CPUs (at least 4) keeps independent tasks moving.
    parallelism: setup.parallelism ?? Math.max(4, 2 * availableParallelism()),
  };
}

/** Where GitHub Actions come from (CONVEYOR_ACTIONS_URL, default https://github.com) and their cache. */
export function actionDeps(env: NodeJS.ProcessEnv, cacheDir: string, images?: ImageBuilder): ActionDeps {
  const base = env.CONVEYOR_ACTIONS_URL || DEFAULT_ACTIONS_URL;
  return {
    source: new GitActionSource(cacheDir, base),
    ...(images ? { images } : {}),
    node: process.execPath,
    serverUrl: base.replace(/\/+$/, ''),
  };
}
