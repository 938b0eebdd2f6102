import { randomUUID } from 'node:crypto';
import { accessSync, constants } from 'node:fs';
import { availableParallelism } from 'node:os';
import { delimiter, join } from 'node:path';
import type { EngineDeps } from '../app/run-engine.js';
import { LocalArtifactStore } from '../artifacts/local-artifact-store.js';
import { ContainerExecutor } from '../executors/container-executor.js';
import { LocalProcessExecutor } from '../executors/local-process-executor.js';
import { FileLogStore } from '../logs/file-log-store.js';
import { systemClock } from '../ports/clock.js';
import type { WorkspaceProvider } from '../ports/workspace-provider.js';
import { openSqliteRunStore } from '../store/sqlite.js';
import { splitArgs } from './output.js';

export interface LocalSetup {
  stateDir: string;
  artifactsDir: string;
  workspaces: WorkspaceProvider;
  parallelism?: number;
  containerRuntime?: string;
}

/** Wires the adapters of a one-machine run: SQLite, files for logs and artifacts, local executors. */
export async function composeLocal(setup: LocalSetup): Promise<EngineDeps> {
  const runtime =
    setup.containerRuntime ?? process.env.CONVEYOR_CONTAINER_RUNTIME ?? findOnPath(['podman', 'docker']);
  const runArgs = splitArgs(process.env.CONVEYOR_CONTAINER_RUN_ARGS ?? '');
  return {
    store: await openSqliteRunStore(join(setup.stateDir, 'local.db')),
    logs: new FileLogStore(join(setup.stateDir, 'logs')),
    artifacts: new LocalArtifactStore(setup.artifactsDir),
    native: new LocalProcessExecutor({ launcher: process.env.CONVEYOR_LAUNCHER !== '0' }),
    ...(runtime ? { container: new ContainerExecutor({ runtime, runArgs }) } : {}),
    workspaces: setup.workspaces,
    clock: systemClock,
    newId: randomUUID,
    // Cubes mostly wait on I/O or children; twice the CPUs (at least 4) keeps independent tasks moving.
    parallelism: setup.parallelism ?? Math.max(4, 2 * availableParallelism()),
  };
}

function findOnPath(commands: string[]): string | undefined {
  const dirs = (process.env.PATH ?? '').split(delimiter).filter(Boolean);
  for (const command of commands) {
    for (const dir of dirs) {
      try {
        accessSync(join(dir, command), constants.X_OK);
        return command;
      } catch {
        // not here
      }
    }
  }
  return undefined;
}
