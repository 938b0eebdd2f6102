import type { WorkerStore } from '../ports/worker-store.js';
import type { TokenValues } from './expression-scope.js';
import type { RemoteOutcome, RemoteTasks, TaskReport } from './remote-tasks.js';

/** A task of a run this server executes: the engine's side of it. */
export interface Followed {
  /** Secrets the engine gave (a resumed task has none: they are read from the store). */
  secrets?: Record<string, string>;
  idToken?: (name: string) => Promise<TokenValues>;
  /** The attempt the engine knows (-1 until the row was read, for a resumed task). */
  attempt: number;
  /** The last report applied, as stored. */
  report?: string;
  onReport: (report: TaskReport) => void;
  onAttempt: (message: string) => void;
  resolve: (outcome: RemoteOutcome) => void;
  settled: boolean;
  syncing: Promise<void>;
}

export type EngineCallbacks = Pick<Parameters<RemoteTasks['start']>[0], 'onReport' | 'onAttempt' | 'idToken'>;

/**
 * The tasks handed to workers whose runs this server executes. Their rows are the truth, written
 * by whichever replica the worker talks to; `sync` reads a row and moves the engine on: a new
 * attempt, a new report, the end (app/task-dispatch.ts calls it when it hears `t:<task>`).
 */
export class FollowedTasks {
  private readonly tasks = new Map<string, Followed>();

  constructor(
    private readonly store: Pick<WorkerStore, 'findTask'>,
    private readonly log: (message: string) => void,
  ) {}

  get size(): number {
    return this.tasks.size;
  }
  ids(): string[] {
    return [...this.tasks.keys()];
  }
  get(taskId: string): Followed | undefined {
    return this.tasks.get(taskId);
  }

  /** Follows a task for the engine; `done` resolves once, when the task ended (`resolve`). */
  follow(taskId: string, callbacks: EngineCallbacks): { done: Promise<RemoteOutcome>; task: Followed } {
    let resolve!: (outcome: RemoteOutcome) => void;
    const done = new Promise<RemoteOutcome>((r) => (resolve = r));
    const task: Followed = {
      attempt: -1,
      ...(callbacks.idToken ? { idToken: callbacks.idToken } : {}),
      onReport: callbacks.onReport,
      onAttempt: callbacks.onAttempt,
      settled: false,
      syncing: Promise.resolve(),
      resolve: (outcome) => {
        if (task.settled) return;
        task.settled = true;
        if (this.tasks.get(taskId) === task) this.tasks.delete(taskId);
        resolve(outcome);
      },
    };
    this.tasks.set(taskId, task);
    return { done, task };
  }

  /** Reads the task's row and moves the engine; reads of one task are chained, never concurrent. */
  sync(taskId: string): void {
    const task = this.tasks.get(taskId);
    if (!task) return;
    task.syncing = task.syncing
      .then(async () => {
        const row = await this.store.findTask(taskId);
        if (!row || task.settled) return;
        if (task.attempt < 0) task.attempt = row.attempt;
        if (row.attempt > task.attempt) {
          task.attempt = row.attempt;
          task.report = undefined;
          task.onAttempt(row.message ?? `attempt ${row.attempt} of task ${taskId}`);
        }
        if (row.report !== undefined && row.report !== task.report) {
          task.report = row.report;
          task.onReport(JSON.parse(row.report) as TaskReport);
        }
        if (row.state === 'done') task.resolve(row.outcome ?? {});
      })
      .catch((error: unknown) => this.log(`task ${taskId}: reading its state failed: ${String(error)}`));
  }

  syncAll(): void {
    for (const taskId of this.tasks.keys()) this.sync(taskId);
  }
}
