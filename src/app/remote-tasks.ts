import type { ArtifactRecord, CubeRun, RunRecord, TaskRun, WorkflowRun } from '../core/run/model.js';
import type { RunStatus } from '../core/run/status.js';
import type { TokenValues } from './expression-scope.js';

/** A cube as a worker reports it (the worker's engine owns it while it holds the lease). */
export interface CubeReport {
  id: string;
  status: RunStatus;
  startedAt?: number;
  finishedAt?: number;
  exitCode?: number;
  errorMessage?: string;
  outputs: Record<string, string>;
  artifacts: ArtifactRecord[];
}

export interface TaskReport {
  cubes: CubeReport[];
}

/** How a task handed to a worker ended on the server's side. */
export interface RemoteOutcome {
  /** Set when the task ended without its worker saying so (canceled while queued, attempts used up). */
  message?: string;
  canceled?: boolean;
}

export interface RemoteHandle {
  readonly done: Promise<RemoteOutcome>;
  cancel(reason: string): void;
}

/**
 * Where tasks that need an external worker go (app/task-dispatch.ts). The engine keeps scheduling
 * (needs, outputs, roll-up); the worker runs the task's cubes and reports them.
 *
 * Contract: `onReport` may be called any number of times with whole snapshots (idempotent);
 * `onAttempt` says a lease was lost and the task starts over on another worker; `done` resolves
 * once, after the last report.
 */
export interface RemoteTasks {
  wants(task: TaskRun): boolean;
  start(request: {
    run: RunRecord;
    workflow: WorkflowRun;
    task: TaskRun;
    secrets: Record<string, string>;
    /** Mints the task's id token `name` for the worker (the engine's, once per task); absent: no issuer. */
    idToken?: (name: string) => Promise<TokenValues>;
    onReport: (report: TaskReport) => void;
    onAttempt: (message: string) => void;
  }): RemoteHandle;
  /**
   * Follows a task that was handed to workers before this server (re)started: the run is resumed
   * from the store, the task goes on where its worker is (`onReport` gets its last report first).
   */
  resume?(request: {
    run: RunRecord;
    workflow: WorkflowRun;
    task: TaskRun;
    idToken?: (name: string) => Promise<TokenValues>;
    onReport: (report: TaskReport) => void;
    onAttempt: (message: string) => void;
  }): RemoteHandle;
}

/** Copies a reported cube onto the engine's cube; returns whether anything changed. */
export function applyCubeReport(cube: CubeRun, report: CubeReport): boolean {
  const before = JSON.stringify([cube.exitCode, cube.errorMessage, cube.outputs, cube.artifacts]);
  if (report.exitCode !== undefined) cube.exitCode = report.exitCode;
  if (report.errorMessage !== undefined) cube.errorMessage = report.errorMessage;
  cube.outputs = report.outputs;
  cube.artifacts = report.artifacts;
  if (report.startedAt !== undefined) cube.dates.startedAt ??= report.startedAt;
  return before !== JSON.stringify([cube.exitCode, cube.errorMessage, cube.outputs, cube.artifacts]);
}

/** Puts a cube back to `created` for another attempt. */
export function resetCube(cube: CubeRun): void {
  cube.status = 'created';
  delete cube.exitCode;
  delete cube.errorMessage;
  delete cube.dates.startedAt;
  delete cube.dates.finishedAt;
  cube.outputs = {};
  cube.artifacts = [];
}
