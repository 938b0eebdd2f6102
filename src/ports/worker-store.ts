/** A token that opens the worker protocol; the secret itself is only ever stored as its hash. */
export interface WorkerTokenRecord {
  id: string;
  note: string;
  createdAt: number;
  /** The administrator who created it (user id). */
  createdBy: string;
  revokedAt?: number;
  lastUsedAt?: number;
}

export type WorkerState = 'online' | 'draining' | 'offline';

/** A worker as it last registered or reported. */
export interface WorkerRecord {
  name: string;
  tokenId: string;
  tags: string[];
  /** Takes tasks whose runs_on names no worker tag (embedded workers; `conveyor worker --untagged`). */
  untagged: boolean;
  slots: number;
  running: number;
  version: string;
  executor: string;
  /** How the worker keeps a task's processes from outliving it: cgroup, pid-namespace, process-group. */
  containment: string;
  state: WorkerState;
  registeredAt: number;
  lastSeenAt: number;
}

export type WorkerTaskState = 'queued' | 'leased' | 'done';

/** A task handed to workers (see docs/workers.md, "Leases and fencing"). */
export interface WorkerTaskRow {
  taskId: string;
  runId: string;
  repoId: string;
  tags: string[];
  state: WorkerTaskState;
  /** 1 for the first lease; a lease that expired makes the next one attempt + 1. */
  attempt: number;
  maxAttempts: number;
  /** The fencing token: grows with every lease; writes with another epoch are refused (409). */
  epoch: number;
  workerName?: string;
  leaseUntil?: number;
  tokenHash?: string;
  cancelReason?: string;
  /** Why the task was retried or ended without its worker (shown in the run). */
  message?: string;
  queuedAt: number;
  updatedAt: number;
  payload: string;
  report?: string;
  /** Per cube id, the server's log size when this lease began. */
  logBases?: Record<string, number>;
  /** Set once the task is `done`: how it ended, as the engine is told (app/remote-tasks.ts). */
  outcome?: { message?: string; canceled?: boolean };
}

/**
 * Storage of worker tokens, workers and the task queue they claim from.
 *
 * Contract: every task transition is a compare-and-set on (task, state, epoch), so two replicas or
 * two workers racing for one task see exactly one winner; the loser gets `undefined`/`false`.
 * `claim` hands out the oldest queued task whose tags are all among the worker's tags; a task
 * with no tags only to a worker that takes untagged tasks; with `only`, one of those task ids. On
 * PostgreSQL it is one `FOR UPDATE SKIP LOCKED` statement with the same rules, so replicas claiming
 * at once never wait on each other's candidate rows.
 */
export interface WorkerStore {
  insertToken(token: WorkerTokenRecord, hash: string): Promise<void>;
  findTokenByHash(hash: string): Promise<WorkerTokenRecord | undefined>;
  listTokens(): Promise<WorkerTokenRecord[]>;
  revokeToken(id: string, at: number): Promise<boolean>;

  upsertWorker(worker: WorkerRecord): Promise<void>;
  touchWorker(name: string, at: number, running: number, state?: WorkerState): Promise<void>;
  listWorkers(): Promise<WorkerRecord[]>;

  enqueueTask(row: WorkerTaskRow): Promise<void>;
  claimTask(
    worker: { name: string; tags: readonly string[]; untagged: boolean; only?: readonly string[] },
    lease: { now: number; until: number; tokenHash: string },
  ): Promise<WorkerTaskRow | undefined>;
  findTask(taskId: string): Promise<WorkerTaskRow | undefined>;
  findTaskByToken(hash: string): Promise<WorkerTaskRow | undefined>;
  /** Extends a lease held at `epoch`; false when it is no longer that lease. */
  renewLease(taskId: string, epoch: number, until: number, at: number): Promise<boolean>;
  saveLogBases(taskId: string, epoch: number, bases: Record<string, number>): Promise<boolean>;
  saveReport(taskId: string, epoch: number, report: string, at: number): Promise<boolean>;
  /** Ends the lease at `epoch` for good (the task finished or was canceled). */
  finishTask(taskId: string, epoch: number, report: string, at: number): Promise<boolean>;
  /** Leased tasks whose lease ended before `now`. */
  listExpired(now: number): Promise<WorkerTaskRow[]>;
  /** Puts an expired lease back in the queue as the next attempt; false if someone else did. */
  requeue(taskId: string, epoch: number, message: string, at: number): Promise<boolean>;
  /** Ends a task without a worker (queue timeout, cancel while queued, attempts used up). */
  abandonTask(
    taskId: string,
    epoch: number,
    outcome: { message: string; canceled?: boolean },
    at: number,
  ): Promise<boolean>;
  /** Every task of a run handed to workers, open or done (a restarted server resumes from them). */
  listRunTasks(runId: string): Promise<WorkerTaskRow[]>;
  requestCancel(taskId: string, reason: string, at: number): Promise<void>;
  /** Tasks queued or leased, for the "waiting for a worker" view and the reaper. */
  listOpenTasks(): Promise<WorkerTaskRow[]>;
}
