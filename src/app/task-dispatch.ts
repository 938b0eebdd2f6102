import type { RunRecord, TaskRun } from '../core/run/model.js';
import { isTerminal } from '../core/run/status.js';
import type { ArtifactStore } from '../ports/artifact-store.js';
import type { Clock } from '../ports/clock.js';
import type { LogStore } from '../ports/log-store.js';
import type { Notifier } from '../ports/notifier.js';
import type { WorkerStore, WorkerTaskRow } from '../ports/worker-store.js';
import type { RemoteHandle, RemoteTasks, TaskReport } from './remote-tasks.js';
import { AppError } from './errors.js';
import type { TokenValues } from './expression-scope.js';
import { FollowedTasks } from './followed-tasks.js';
import { PollWakeups, type Poller } from './poll-wakeups.js';
import { hashToken, newToken } from './secret-box.js';
import { needsWorker, requiredTags } from './worker-tags.js';

export interface DispatchOptions {
  store: WorkerStore;
  logs: LogStore;
  artifacts(repoId: string): ArtifactStore;
  clock: Clock;
  /** A lease not renewed for this long expires (the worker renews every third of it). */
  leaseMs: number;
  /** Leases per task: 2 = a task whose worker was lost runs once more elsewhere. */
  maxAttempts: number;
  /** A task no worker took within this long fails, saying which tags it waited for. */
  queueTimeoutMs: number;
  /**
   * Every task goes to workers (the server's embedded workers, docs/workers.md); else only tasks
   * whose runs_on names a worker tag, and the rest run in the server's process.
   */
  everyTask?: boolean;
  /** A held poll looks at the queue at least this often, should a wake-up have been lost. */
  pollBackstopMs: number;
  log: (message: string) => void;
  /** Wake-ups between this server's parts and its replicas (channel TASKS_CHANNEL). */
  notifier: Notifier;
  /** A task's secrets, decrypted from the store (a task of a run executed on another replica). */
  secrets(run: RunRecord): Promise<Record<string, string>>;
  /** Gets the task's commit into this replica's mirror, which the worker fetches it from. */
  prepare(run: RunRecord): Promise<void>;
  /**
   * Whether a worker died with this server's previous life (its embedded workers are its child
   * processes): a lease it held when the server stopped is lost, not a task going on elsewhere.
   */
  diedWithServer?(workerName: string): boolean;
}

/** How a task ends whose embedded worker stopped with the server (see `resume`). */
const LOST_WITH_SERVER =
  'Conveyor stopped while this task was running on its embedded worker (a crash or a restart of the server); it was ended as canceled. Restart the run to try again.';

/**
 * The channel of the task queue. Topics: `q:<tags>` a task needing these tags (comma-separated,
 * sorted) was queued; `c:<task>` a cancel was asked for; `t:<task>` the task's row changed (a
 * report, its end, a new attempt): the replica executing its run reads the row.
 */
export const TASKS_CHANNEL = 'conveyor_tasks';

/** Every this-many reaper passes, the tasks of runs executed here are read again (lost wake-ups). */
const SYNC_EVERY_REAPS = 10;

/** What a worker gets when it claims a task. */
export interface Assignment {
  task_id: string;
  epoch: number;
  attempt: number;
  /** The task token: authorizes this lease's writes and its git fetches; dies with the lease. */
  token: string;
  lease_ms: number;
  /** The run with only this task (its `needs` already met), as the worker's engine runs it. */
  run: RunRecord;
  secrets: Record<string, string>;
  /** Path of the repository's git smart HTTP endpoint on the server, for this task. */
  git_path: string;
}

/**
 * The server's queue of tasks for external workers: enqueue from the engine, claims by long-polling
 * workers, leases kept alive by heartbeats and fenced by epoch, a reaper that re-queues a lost
 * worker's task once (or ends it), cancels delivered to the held poll. The database row is the
 * truth (docs/workers.md): whichever replica a worker talks to writes it and publishes `t:<task>`,
 * and the replica executing the run reads the row and moves its engine (`sync`).
 */
export class TaskDispatch implements RemoteTasks {
  private readonly local: FollowedTasks;
  private readonly polls = new PollWakeups();
  private timer: NodeJS.Timeout | undefined;
  private reaping = false;
  private reaps = 0;
  /** Since when the store has answered the reaper without a failure (undefined: it is failing). */
  private healthySince: number | undefined;
  /** Why a lease was ended early (expireWorker), by task. */
  private readonly goneWhy = new Map<string, string>();
  private readonly unsubscribe: () => void;

  constructor(readonly o: DispatchOptions) {
    this.local = new FollowedTasks(o.store, o.log);
    this.healthySince = o.clock.now();
    this.unsubscribe = o.notifier.subscribe(TASKS_CHANNEL, {
      onTopics: (topics) => this.heard(topics),
      onGap: () => {
        this.wake();
        this.local.syncAll();
      },
    });
  }

  wants(task: TaskRun): boolean {
    return this.o.everyTask === true || needsWorker(task.spec.runsOn);
  }

  start(request: Parameters<RemoteTasks['start']>[0]): RemoteHandle {
    const { run, workflow, task } = request;
    const now = this.o.clock.now();
    const single: RunRecord = {
      ...run,
      // The worker's engine starts the task from the beginning: its needs are met here already.
      // The workflow's ended tasks follow it, without their cubes, for `${{ tasks.X.outputs.Y }}`.
      workflows: [
        {
          ...workflow,
          tasks: [
            { ...task, needs: [], status: 'created' },
            ...workflow.tasks
              .filter((t) => t !== task && isTerminal(t.status))
              .map((t) => ({ ...t, cubes: [] })),
          ],
        },
      ],
    };
    const row: WorkerTaskRow = {
      taskId: task.id,
      runId: run.id,
      repoId: run.repoId,
      tags: requiredTags(task.spec.runsOn),
      state: 'queued',
      attempt: 1,
      maxAttempts: this.o.maxAttempts,
      epoch: 0,
      queuedAt: now,
      updatedAt: now,
      payload: JSON.stringify(single),
    };
    const { done, task: local } = this.local.follow(task.id, request);
    local.attempt = 1;
    local.secrets = request.secrets;
    const enqueued = this.o.store.enqueueTask(row).then(
      () => this.o.notifier.publish(TASKS_CHANNEL, queuedTopic(row.tags)),
      (error: unknown) => local.resolve({ message: `the task could not be queued: ${String(error)}` }),
    );
    return {
      done,
      cancel: (reason) => void enqueued.then(() => this.cancelLogged(task.id, reason)),
    };
  }

  /**
   * Follows a task queued before this server (re)started, for a run it resumes: its state comes
   * from the row, whichever replica the worker reports to. No row: the task was never queued.
   * Its secrets are read from the store when a worker claims it again.
   */
  resume(request: Parameters<NonNullable<RemoteTasks['resume']>>[0]): RemoteHandle {
    const taskId = request.task.id;
    const { done, task: local } = this.local.follow(taskId, request);
    const resumeNow = async () => {
      const row = await this.o.store.findTask(taskId);
      if (!row) return local.resolve({ message: 'Conveyor stopped before this task was handed to a worker' });
      if (this.diedHere(row)) {
        const outcome = { message: LOST_WITH_SERVER, canceled: true };
        await this.o.store.abandonTask(taskId, row.epoch, outcome, this.o.clock.now());
      }
      this.local.sync(taskId);
    };
    resumeNow().catch((error: unknown) =>
      local.resolve({ message: `the task could not be resumed: ${String(error)}` }),
    );
    return { done, cancel: (reason) => this.cancelLogged(taskId, reason) };
  }

  /** A cancel from the engine, which does not wait: a store that cannot take it now is logged. */
  private cancelLogged(taskId: string, reason: string): void {
    this.cancel(taskId, reason).catch((error: unknown) =>
      this.o.log(`task ${taskId}: the cancel could not be stored: ${String(error)}`),
    );
  }

  /** Whether a run left by a stopped server has tasks on workers to go on with (see `resume`). */
  async resumable(run: RunRecord): Promise<boolean> {
    const rows = await this.o.store.listRunTasks(run.id);
    const tasks = new Map(run.workflows.flatMap((w) => w.tasks).map((t) => [t.id, t]));
    return rows.some((r) =>
      r.state === 'done' ? tasks.get(r.taskId)?.status === 'processing' : !this.diedHere(r),
    );
  }

  private diedHere(row: WorkerTaskRow): boolean {
    return (
      row.state === 'leased' &&
      row.workerName !== undefined &&
      this.o.diedWithServer?.(row.workerName) === true
    );
  }

  private heard(topics: readonly string[]): void {
    const queued: string[][] = [];
    const cancels = new Set<string>();
    for (const topic of topics) {
      const [kind, rest] = [topic.slice(0, 2), topic.slice(2)];
      if (kind === 't:') this.local.sync(rest);
      else if (kind === 'c:') cancels.add(rest);
      else if (kind === 'q:') queued.push(rest === '' ? [] : rest.split(','));
    }
    this.polls.wake(queued, cancels);
  }

  /** Tells the replica executing the task's run (maybe this one) that its row changed. */
  private changed(taskId: string): void {
    this.o.notifier.publish(TASKS_CHANNEL, `t:${taskId}`);
  }

  private async cancel(taskId: string, reason: string): Promise<void> {
    const now = this.o.clock.now();
    await this.o.store.requestCancel(taskId, reason, now);
    const row = await this.o.store.findTask(taskId);
    const outcome = { message: reason, canceled: true };
    if (row?.state === 'queued' && (await this.o.store.abandonTask(taskId, row.epoch, outcome, now)))
      this.changed(taskId);
    this.o.notifier.publish(TASKS_CHANNEL, `c:${taskId}`);
  }

  /** Wakes every held poll of this server (it stops; the database link is back). */
  wake(): void {
    this.polls.wakeAll();
  }

  /**
   * Waits until `ms` passed, the signal fired, or a wake-up concerns this poller: a task queued
   * (here or on another replica) that it may take, or a cancel of one of its tasks.
   */
  waitForWake(ms: number, signal: AbortSignal, poller: Poller = { tags: [], tasks: [] }): Promise<void> {
    return this.polls.wait(ms, signal, poller);
  }

  /**
   * Leases the oldest task this worker may take, or answers undefined. `ownOnly`: the worker is one of this server's embedded workers, which take only the tasks of
   * runs this server executes (it holds their secrets; its mirror has their commits).
   */
  async claim(
    worker: { name: string; tags: string[]; untagged: boolean },
    ownOnly = false,
  ): Promise<Assignment | undefined> {
    const token = `cvt_${newToken()}`;
    const now = this.o.clock.now();
    if (ownOnly && this.local.size === 0) return undefined;
    const row = await this.o.store.claimTask(ownOnly ? { ...worker, only: this.local.ids() } : worker, {
      now,
      until: now + this.o.leaseMs,
      tokenHash: hashToken(token),
    });
    if (!row) return undefined;
    const run = JSON.parse(row.payload) as RunRecord;
    const cubes = run.workflows[0]?.tasks[0]?.cubes ?? [];
    const bases: Record<string, number> = {};
    for (const cube of cubes) bases[cube.id] = await this.o.logs.size(run.id, cube.id);
    await this.o.store.saveLogBases(row.taskId, row.epoch, bases);
    let secrets: Record<string, string>;
    // Fetching the commit into this replica's mirror may take longer than a lease: no worker
    // renews it before it has the assignment, so this replica does meanwhile.
    const keep = setInterval(
      () => {
        const at = this.o.clock.now();
        void this.o.store.renewLease(row.taskId, row.epoch, at + this.o.leaseMs, at).catch(() => undefined);
      },
      Math.max(50, this.o.leaseMs / 3),
    );
    try {
      await this.o.prepare(run);
      secrets = this.local.get(row.taskId)?.secrets ?? (await this.o.secrets(run));
    } catch (error) {
      const message = `the task could not be handed out: ${error instanceof Error ? error.message : String(error)}`;
      if (await this.o.store.abandonTask(row.taskId, row.epoch, { message }, this.o.clock.now()))
        this.changed(row.taskId);
      return undefined;
    } finally {
      clearInterval(keep);
    }
    return {
      task_id: row.taskId,
      epoch: row.epoch,
      attempt: row.attempt,
      token,
      lease_ms: this.o.leaseMs,
      run,
      secrets,
      git_path: `/worker/v1/git/${row.taskId}`,
    };
  }

  /** Whether this replica executes the run of the task (its engine follows the task). */
  executesHere(taskId: string): boolean {
    return this.local.get(taskId) !== undefined;
  }

  /**
   * The id token `name` of a leased task, minted by the engine running its run (once per task, as
   * for cubes on the server); only the replica executing the run can (others: worker-task-files.ts).
   */
  idToken(taskId: string, name: string): Promise<TokenValues> {
    const local = this.local.get(taskId);
    if (!local) throw new AppError('Conflict', `task ${taskId} is not executed by this server; try again`);
    if (!local.idToken) throw new AppError('ValidationError', 'this server has no id token issuer');
    return local.idToken(name);
  }

  /**
   * A run ended without its engine (its server died): the tasks it had handed to workers end too,
   * so that no lease of a dead run is retried.
   */
  async endRun(runId: string, message: string): Promise<void> {
    const now = this.o.clock.now();
    for (const row of await this.o.store.listOpenTasks())
      if (row.runId === runId && !this.local.get(row.taskId))
        if (await this.o.store.abandonTask(row.taskId, row.epoch, { message }, now)) this.changed(row.taskId);
  }

  /** The tasks among `taskIds` that were asked to cancel, with why. */
  async cancelsFor(taskIds: string[]): Promise<{ task_id: string; reason: string }[]> {
    const out: { task_id: string; reason: string }[] = [];
    for (const id of taskIds) {
      const row = await this.o.store.findTask(id);
      if (row?.cancelReason !== undefined) out.push({ task_id: id, reason: row.cancelReason });
    }
    return out;
  }

  async renew(row: WorkerTaskRow, epoch: number): Promise<boolean> {
    const now = this.o.clock.now();
    return this.o.store.renewLease(row.taskId, epoch, now + this.o.leaseMs, now);
  }

  /** Stores and applies a report; false when the lease at `epoch` is gone. */
  async report(row: WorkerTaskRow, epoch: number, report: TaskReport, final: boolean): Promise<boolean> {
    const located = this.locateArtifacts(row, report);
    const text = JSON.stringify(located);
    const now = this.o.clock.now();
    const ok = final
      ? await this.o.store.finishTask(row.taskId, epoch, text, now)
      : await this.o.store.saveReport(row.taskId, epoch, text, now);
    if (ok) this.changed(row.taskId);
    return ok;
  }

  /** Artifacts a worker uploaded are stored here; their location is this server's store. */
  private locateArtifacts(row: WorkerTaskRow, report: TaskReport): TaskReport {
    const run = JSON.parse(row.payload) as RunRecord;
    const workflow = run.workflows[0];
    const task = workflow?.tasks[0];
    if (!workflow || !task) return report;
    const store = this.o.artifacts(row.repoId);
    return {
      cubes: report.cubes.map((cube) => {
        const slug = task.cubes.find((c) => c.id === cube.id)?.slug ?? '';
        const key = { runSlug: run.slug, workflow: workflow.slug, task: task.slug, cube: slug };
        return {
          ...cube,
          artifacts: cube.artifacts.map((a) =>
            a.location?.startsWith(WORKER_LOCATION)
              ? { ...a, location: store.locate(key, a.location.slice(WORKER_LOCATION.length)) }
              : a,
          ),
        };
      }),
    };
  }

  startReaper(intervalMs: number): void {
    this.timer = setInterval(() => void this.reap(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.unsubscribe();
    this.wake();
  }

  /**
   * Expired leases: retried as the next attempt, or ended; tasks queued too long: ended. Leases
   * run out only once the store has answered for a whole lease: while this server could not reach
   * the database (or had just started), no worker could renew through it either. A lease ended
   * early by `expireWorker` (its worker is known to be gone) does not wait.
   */
  async reap(): Promise<void> {
    if (this.reaping) return;
    this.reaping = true;
    try {
      const now = this.o.clock.now();
      const expired = await this.o.store.listExpired(now);
      this.healthySince ??= now;
      const healthy = now - this.healthySince >= this.o.leaseMs;
      for (const row of expired) if (healthy || this.goneWhy.has(row.taskId)) await this.expire(row, now);
      for (const row of await this.o.store.listOpenTasks()) {
        if (row.state !== 'queued' || now - row.queuedAt < this.o.queueTimeoutMs) continue;
        const message = `no worker with tags [${['self-hosted', ...row.tags].join(', ')}] took task ${row.taskId} within ${Math.round(this.o.queueTimeoutMs / 1000)} s; start one (docs/workers.md) and restart the run`;
        if (await this.o.store.abandonTask(row.taskId, row.epoch, { message }, now)) this.changed(row.taskId);
      }
      if (++this.reaps % SYNC_EVERY_REAPS === 0) this.local.syncAll();
    } catch (error) {
      if (this.healthySince !== undefined) this.o.log(`worker task reaper: ${String(error)}`);
      this.healthySince = undefined;
    } finally {
      this.reaping = false;
    }
  }

  /**
   * Ends the leases of a worker taken as dead (WorkerPolls: its poll's connection closed and it
   * polled no more) now, through the reaper, as if they had run out; `why` goes in the message.
   */
  async expireWorker(name: string, why: string): Promise<void> {
    const now = this.o.clock.now();
    const ids: string[] = [];
    for (const row of await this.o.store.listOpenTasks()) {
      if (row.state !== 'leased' || row.workerName !== name) continue;
      ids.push(row.taskId);
      this.goneWhy.set(row.taskId, why);
      await this.o.store.renewLease(row.taskId, row.epoch, now - 1, now);
    }
    await this.reap();
    for (const id of ids) this.goneWhy.delete(id);
  }

  private async expire(row: WorkerTaskRow, now: number): Promise<void> {
    const why = this.goneWhy.get(row.taskId) ?? `no heartbeat for ${Math.round(this.o.leaseMs / 1000)} s`;
    this.goneWhy.delete(row.taskId);
    const lost = `worker ${row.workerName ?? '?'} lost its lease on the task (attempt ${row.attempt} of ${row.maxAttempts}: ${why})`;
    if (row.cancelReason !== undefined) {
      const outcome = { canceled: true, message: row.cancelReason };
      if (await this.o.store.abandonTask(row.taskId, row.epoch, outcome, now)) this.changed(row.taskId);
      return;
    }
    if (row.attempt >= row.maxAttempts) {
      const message = `${lost}; not retried (attempts used up)`;
      if (await this.o.store.abandonTask(row.taskId, row.epoch, { message }, now)) this.changed(row.taskId);
      return;
    }
    const message = `${lost}; retried on another worker`;
    await this.noteInLogs(row, message, now);
    if (!(await this.o.store.requeue(row.taskId, row.epoch, message, now))) return;
    this.o.log(`task ${row.taskId}: ${message}`);
    this.changed(row.taskId);
    this.o.notifier.publish(TASKS_CHANNEL, queuedTopic(row.tags));
  }

  private async noteInLogs(row: WorkerTaskRow, message: string, now: number): Promise<void> {
    const run = JSON.parse(row.payload) as RunRecord;
    for (const cube of run.workflows[0]?.tasks[0]?.cubes ?? []) {
      // Another replica's reaper may have requeued the task meanwhile: its note is the one.
      const current = await this.o.store.findTask(row.taskId);
      if (current?.state !== 'leased' || current.epoch !== row.epoch) return;
      if ((await this.o.logs.size(run.id, cube.id)) === 0) continue;
      const sink = this.o.logs.open(run.id, cube.id);
      sink.note(message, now);
      sink.close();
      // Stored before the task is queued again: the next attempt's log starts after the note.
      await sink.stored?.();
    }
  }
}

function queuedTopic(tags: readonly string[]): string {
  return `q:${[...tags].sort().join(',')}`;
}

/** Prefix of an artifact location that names a file the worker uploaded to this server. */
export const WORKER_LOCATION = 'conveyor-worker:';
