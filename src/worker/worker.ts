import { randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import type { ActionDeps } from '../app/actions/run-action.js';
import type { ImageBuilder } from '../ports/action-source.js';
import { DEFAULT_ACTIONS_URL, GitActionSource } from '../workspace/action-cache.js';
import type { Assignment } from '../app/task-dispatch.js';
import { CubeSandbox } from '../executors/cube-sandbox.js';
import { localExecutors } from '../executors/detect-runtime.js';
import type { Executor } from '../ports/executor.js';
import { describe, sleep, WorkerClient } from './client.js';
import { Containment, CONTAINMENT_KINDS, type ContainmentKind } from './containment.js';
import { ContainedExecutor } from './cube-process.js';
import { CubeUsers } from './cube-users.js';
import { PollWatch } from './poll-watch.js';
import { TaskRunner } from './task-runner.js';
import { WorkerWorkspaces } from './workspaces.js';

export const WORKER_VERSION = '0.1.0';

export interface WorkerOptions {
  servers: string[];
  token: string;
  name?: string;
  tags: string[];
  slots: number;
  workDir: string;
  executor: 'native' | 'container';
  /** How long running tasks may take to finish after SIGTERM before they are canceled. */
  drainMs: number;
  /** Environment the executors see (already scrubbed of the worker's own secrets). */
  env: NodeJS.ProcessEnv;
  /** Also take tasks whose runs_on names no worker tag (embedded workers, `--untagged`). */
  untagged?: boolean;
  /** Cubes running at once in one task (default 4). */
  parallelism?: number;
  log: (message: string) => void;
}

interface PollAnswer {
  task: Assignment | null;
  cancel: { task_id: string; reason: string }[];
}

/**
 * `conveyor worker`: registers, then holds one long poll open at a time (outbound HTTP only). The
 * poll answers a task when a slot is free and a task with matching tags is queued, or the cancels
 * of tasks it runs. Each task runs in its own TaskRunner; SIGTERM drains (no new task, running
 * ones finish within the grace period, then are canceled and reported).
 */
export class Worker {
  readonly name: string;
  private readonly client: WorkerClient;
  private readonly runners = new Map<string, TaskRunner>();
  private readonly done = new Set<Promise<void>>();
  private draining = false;
  private readonly stop = new AbortController();
  private containment!: Containment;
  private executors!: { native?: Executor; container?: Executor };
  private users!: CubeUsers;
  private workspaces!: WorkerWorkspaces;
  private wakePoll: (() => void) | undefined;
  private actions!: ActionDeps;
  private readonly watch: PollWatch;

  constructor(private readonly o: WorkerOptions) {
    this.name = o.name ?? hostname();
    this.client = new WorkerClient(o.servers, o.token, o.log);
    this.watch = new PollWatch({
      singleServer: o.servers.length === 1,
      fenceAll: (why) => {
        for (const runner of this.runners.values()) runner.fence(why);
      },
    });
  }

  /** Prepares the work dir and containment, ends leftovers of a previous life, registers. */
  async start(): Promise<void> {
    const workDir = resolve(this.o.workDir);
    await mkdir(workDir, { recursive: true, mode: 0o700 });
    this.users = CubeUsers.forSlots(this.o.slots, this.o.env);
    this.workspaces = new WorkerWorkspaces(workDir, this.users.users.length === 0);
    await this.workspaces.prepareLayout();
    const wanted = this.o.env.CONVEYOR_WORKER_CONTAINMENT ?? 'auto';
    if (wanted !== 'auto' && !CONTAINMENT_KINDS.includes(wanted as ContainmentKind))
      throw new Error(`CONVEYOR_WORKER_CONTAINMENT must be auto, ${CONTAINMENT_KINDS.join(', ')}`);
    this.containment = await Containment.detect(workDir, wanted as ContainmentKind, this.o.log);
    this.o.log(`worker ${this.name}: processes are contained by ${this.containment.describe()}`);
    const leftovers = await this.containment.endLeftovers();
    if (leftovers > 0)
      this.o.log(`ended the processes of ${leftovers} task(s) a previous run of this worker left`);
    this.o.log(
      this.users.users.length > 0
        ? `worker ${this.name}: native cubes run as ${this.users.users.map((u) => u.name).join(', ')} (one user per slot, no new privileges)`
        : `worker ${this.name}: native cubes run as this worker's own user (it is not root): a cube can read what this user can (docs/security.md)`,
    );
    // The cube environment is built as the server builds it (from scratch, CONVEYOR_PASS_ENV);
    // native cubes get a ContainedExecutor per task (begin).
    const sandbox = new CubeSandbox({ hostEnv: this.o.env, isolate: true });
    const { container, images } = localExecutors(this.o.env, undefined, sandbox);
    this.actions = workerActions(this.o.env, join(this.o.workDir, 'actions'), images);
    this.executors =
      this.o.executor === 'container' && container
        ? { native: container, container }
        : { ...(container ? { container } : {}) };
    await this.register();
  }

  private async register(): Promise<void> {
    const got = await this.client.call<{ message?: string; gone_ms?: number }>(
      'POST',
      '/worker/v1/register',
      {
        json: {
          name: this.name,
          tags: this.o.tags,
          slots: this.o.slots,
          version: WORKER_VERSION,
          executor: this.o.executor,
          containment: this.containment.kind,
          untagged: this.o.untagged === true,
        },
        signal: this.stop.signal,
      },
    );
    if (got.status !== 200)
      throw new Error(`the server refused the registration: ${got.body.message ?? got.status}`);
    this.watch.goneMs = Number(got.body.gone_ms ?? 0);
    this.o.log(
      `worker ${this.name} registered with ${this.client.server}: tags [${this.o.tags.join(', ')}], ${this.o.slots} slot(s)`,
    );
  }

  /**
   * Polls until drained; resolves once every task ended and was reported. A poll keeps its
   * `poll_id` over its retries, so a retry gets the task an answer lost on the way carried.
   */
  async run(): Promise<void> {
    let pollId = randomUUID();
    let backoff = 0;
    while (!this.draining || this.runners.size > 0) {
      // While draining the poll goes on with no free slot: cancels must still reach running tasks.
      let answer: PollAnswer | undefined;
      const held = new AbortController();
      const free = this.draining ? 0 : this.o.slots - this.runners.size;
      // Only a poll that cannot be answered with a task is cut short (to poll again with a free
      // slot, or to leave): cutting one that may carry a task would lose the task's lease.
      this.wakePoll = free === 0 ? () => held.abort() : undefined;
      try {
        const got = await this.client.call<PollAnswer & { error_code?: string }>('POST', '/worker/v1/poll', {
          json: {
            name: this.name,
            free_slots: free,
            tasks: [...this.runners.keys()],
            // After a failure, a poll answered at once tells the server (and us) we are alive.
            wait_ms: backoff > 0 ? 0 : 25_000,
            draining: this.draining,
            poll_id: pollId,
          },
          signal: held.signal,
          // A poll answers within wait_ms; silence beyond that is a cut link (docs/workers.md).
          attemptMs: 25_000 + 10_000,
          retryForMs: 0,
        });
        this.watch.answered();
        pollId = randomUUID();
        backoff = 0;
        if (got.status === 409) {
          await this.register();
          continue;
        }
        answer = got.body;
      } catch (error) {
        if (held.signal.aborted) {
          pollId = randomUUID();
          continue;
        }
        this.watch.broke(error);
        if (backoff === 0 || backoff >= 2000) this.o.log(`poll failed: ${describe(error)}; retrying`);
        await sleep(this.watch.counting ? 50 : backoff / 2 + Math.random() * (backoff / 2));
        backoff = Math.min(2000, Math.max(100, backoff * 2));
        continue;
      } finally {
        this.wakePoll = undefined;
      }
      for (const c of answer.cancel ?? []) this.runners.get(c.task_id)?.cancel(c.reason);
      if (answer.task) await this.begin(answer.task);
    }
    this.watch.stop();
    await Promise.all(this.done);
    await this.containment.close();
    this.executors.container?.close?.();
  }

  private async begin(a: Assignment): Promise<void> {
    this.o.log(`task ${a.task_id}: leased (attempt ${a.attempt}, epoch ${a.epoch})`);
    const user = this.users.take();
    const containment = await this.containment.forTask(a.task_id).catch((error: unknown) => {
      this.o.log(`task ${a.task_id}: no containment (${String(error)}); process groups only`);
      return { prefix: [], end: () => Promise.resolve() };
    });
    const sandbox = new CubeSandbox({ hostEnv: this.o.env, isolate: true, ...(user ? { user } : {}) });
    const runner = new TaskRunner(
      {
        client: this.client,
        workspaces: this.workspaces,
        executors: {
          native: this.executors.native ?? new ContainedExecutor(sandbox, containment.prefix),
          ...(this.executors.container ? { container: this.executors.container } : {}),
        },
        workDir: resolve(this.o.workDir),
        workerName: this.name,
        parallelism: this.o.parallelism ?? 4,
        actions: this.actions,
        log: this.o.log,
      },
      a,
      containment,
    );
    this.runners.set(a.task_id, runner);
    const job = runner
      .run()
      .catch((error: unknown) => this.o.log(`task ${a.task_id}: ${String(error)}`))
      .finally(() => {
        this.users.give(user);
        this.runners.delete(a.task_id);
        this.done.delete(job);
        this.o.log(`task ${a.task_id}: ended`);
        this.wakePoll?.();
      });
    this.done.add(job);
  }

  /**
   * The server that started this (embedded) worker is gone: every task is stopped at once, its
   * processes ended, and nothing more is written; resolves once the processes are gone.
   */
  async abandon(why: string): Promise<void> {
    this.draining = true;
    this.stop.abort();
    this.wakePoll?.();
    for (const runner of this.runners.values()) runner.fence(why);
    await Promise.race([Promise.all(this.done), new Promise((r) => setTimeout(r, 5000).unref())]);
  }

  /** SIGTERM: no new task; what runs finishes within the grace period, then is canceled. */
  drain(): void {
    if (this.draining) return;
    this.draining = true;
    this.o.log(`draining: ${this.runners.size} task(s) running, canceled after ${this.o.drainMs} ms`);
    this.wakePoll?.();
    const timer = setTimeout(() => {
      for (const runner of this.runners.values())
        runner.cancel(`worker ${this.name} shut down before the task finished`);
    }, this.o.drainMs);
    timer.unref();
  }
}

/** GitHub Actions for `uses:` cubes, from CONVEYOR_ACTIONS_URL (as the server), cached in the work dir. */
function workerActions(env: NodeJS.ProcessEnv, cacheDir: string, images?: ImageBuilder): ActionDeps {
  const base = (env.CONVEYOR_ACTIONS_URL || DEFAULT_ACTIONS_URL).replace(/\/+$/, '');
  return {
    source: new GitActionSource(cacheDir, base),
    ...(images ? { images } : {}),
    node: process.execPath,
    serverUrl: base,
  };
}
