import type { CubeRun, RunRecord, TaskRun, WorkflowRun } from '../core/run/model.js';

/** Changed nodes of one run, written together. */
export interface RunChanges {
  run?: RunRecord;
  workflows?: WorkflowRun[];
  tasks?: TaskRun[];
  cubes?: CubeRun[];
}

export interface RunPage {
  runs: RunRecord[];
  /** Slug to pass as `beforeSlug` for the next (older) page; absent on the last page. */
  nextBeforeSlug?: number;
}

/**
 * Persistence of runs and their workflow/task/cube trees.
 *
 * Contract:
 * - `insertRun` stores the whole tree in one transaction and assigns `slug`, the next number of the
 *   repository's counter (1, 2, ...), unique even with concurrent inserts. It returns the stored run.
 * - `applyChanges` writes the given nodes in one transaction. Each node carries the `version` it was
 *   read at; the store bumps it, and throws `ConflictError` (writing nothing) when a stored version
 *   differs: someone else changed the node. On success the passed objects' versions are updated.
 * - `getRun` throws `NotFoundError`; `findRun` returns undefined.
 * - `listRuns` returns newest first, at most `pageSize`.
 * - Methods may be called concurrently; callers serialize writes to one run themselves.
 * - `claimRuns` hands each `prepared` run to one owner (a server replica) at a time: a run whose
 *   claim's lease has run out may be claimed again. `renewLeases` keeps an owner's claims alive.
 * - `claimAbandoned` claims `processing` runs whose lease ran out (their owner died), and with
 *   `includeOwn` also those the same owner claimed before it restarted.
 * - `close` waits for nothing pending; calls after it fail.
 */
export interface RunStore {
  insertRun(run: RunRecord): Promise<RunRecord>;
  applyChanges(changes: RunChanges): Promise<void>;
  getRun(repoId: string, slug: string): Promise<RunRecord>;
  findRun(repoId: string, slug: string): Promise<RunRecord | undefined>;
  /**
   * The run's tree version: the sum of the versions of the run and every node in it, which every
   * write raises (app/live-view.ts `treeVersion` of the stored run); undefined for no such run.
   * One small query, for readers that keep a copy and want to know whether it is still current.
   */
  runVersion(runId: string): Promise<number | undefined>;
  listRuns(repoId: string, options: { pageSize: number; beforeSlug?: number }): Promise<RunPage>;
  claimRuns(owner: string, now: number, leaseUntil: number, limit: number): Promise<RunRecord[]>;
  claimRun(owner: string, runId: string, now: number, leaseUntil: number): Promise<RunRecord | undefined>;
  claimAbandoned(owner: string, now: number, leaseUntil: number, includeOwn: boolean): Promise<RunRecord[]>;
  renewLeases(owner: string, runIds: string[], leaseUntil: number): Promise<void>;
  /** Asks whichever replica executes the run to cancel it (the first reason given wins). */
  requestCancel(runId: string, reason: string): Promise<void>;
  /** Cancel requests for the given runs. */
  cancelRequests(runIds: string[]): Promise<{ runId: string; reason: string }[]>;
  close(): Promise<void>;
}
