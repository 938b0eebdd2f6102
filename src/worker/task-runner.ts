import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { CubeReport } from '../app/remote-tasks.js';
import { RunEngine } from '../app/run-engine.js';
import type { Assignment } from '../app/task-dispatch.js';
import type { CubeRun } from '../core/run/model.js';
import { isTerminal } from '../core/run/status.js';
import { systemClock } from '../ports/clock.js';
import type { CubeProcessSpec, Executor } from '../ports/executor.js';
import type { RunChanges } from '../ports/run-store.js';
import type { ActionDeps } from '../app/actions/run-action.js';
import { UploadingArtifactStore } from './artifact-upload.js';
import { serverIdTokens, withRelease } from './task-extras.js';
import { LeaseLostError, type Lease, type WorkerClient } from './client.js';
import type { TaskContainment } from './containment.js';
import { UploadingLogStore } from './log-upload.js';
import type { WorkerWorkspaces } from './workspaces.js';

export interface TaskRunnerDeps {
  client: WorkerClient;
  workspaces: WorkerWorkspaces;
  executors: { native: Executor; container?: Executor };
  workDir: string;
  workerName: string;
  parallelism: number;
  /** Runs GitHub Actions cubes (`uses:`); absent: they fail saying so. */
  actions?: ActionDeps;
  log: (message: string) => void;
}

/** Cubes see the worker's name (CONVEYOR_WORKER); the rest of their environment is built as on the server. */
function withWorkerName(executor: Executor, name: string): Executor {
  return {
    start: (spec: CubeProcessSpec) =>
      executor.start({ ...spec, env: { ...spec.env, CONVEYOR_WORKER: name } }),
  };
}

/** A cube canceled on the worker (drain, cancel) carries the reason to the server's run. */
function report(cube: CubeRun, cancelReason?: string): CubeReport {
  const errorMessage =
    cube.status === 'canceled' && cancelReason && cube.errorMessage?.startsWith('canceled while running')
      ? `canceled while running (${cancelReason}); its processes were ended`
      : cube.errorMessage;
  return {
    id: cube.id,
    status: cube.status,
    ...(cube.dates.startedAt !== undefined ? { startedAt: cube.dates.startedAt } : {}),
    ...(cube.dates.finishedAt !== undefined ? { finishedAt: cube.dates.finishedAt } : {}),
    ...(cube.exitCode !== undefined ? { exitCode: cube.exitCode } : {}),
    ...(errorMessage !== undefined ? { errorMessage } : {}),
    outputs: cube.outputs,
    artifacts: cube.artifacts,
  };
}

/**
 * Runs one leased task to its end on this worker: the engine of the server, given this one task,
 * with stores that report to the server. The lease is renewed every third of its length; an
 * answer `canceling` cancels the task, a lost lease (409) stops it at once and nothing more is
 * written for it. The final report is sent once every log byte is on the server, and re-sent (after
 * re-uploading from the server's sizes) until the server agrees.
 */
export class TaskRunner {
  private engine: RunEngine | undefined;
  private fenced = false;
  private cancelReason: string | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private beating = 0;
  private finishing = false;
  private logs: UploadingLogStore | undefined;
  private renewedSentAt = 0;
  private reporting: Promise<unknown> = Promise.resolve();
  readonly lease: Lease;
  /**
   * Fires when the worker fenced itself: no new write starts for this lease. Writes already in
   * flight go on retrying; the server refuses them (409) once the lease moved on.
   */
  private readonly stopped = new AbortController();
  /** When the assignment arrived: the claim, which started the lease, was before that. */
  private readonly leasedAt = Date.now();

  constructor(
    private readonly deps: TaskRunnerDeps,
    private readonly a: Assignment,
    private readonly containment: TaskContainment,
  ) {
    this.lease = { taskId: a.task_id, epoch: a.epoch, token: a.token, signal: this.stopped.signal };
  }

  get taskId(): string {
    return this.a.task_id;
  }

  cancel(reason: string): void {
    this.cancelReason ??= reason;
    this.engine?.cancel(reason);
  }

  /** The lease is gone: stop the task's processes and write nothing more. */
  fence(why: string): void {
    if (this.fenced) return this.deps.log(`task ${this.a.task_id}: ${why} (stopped already)`);
    this.fenced = true;
    this.stopped.abort();
    clearTimeout(this.watchdog);
    this.deps.log(`task ${this.a.task_id}: ${why}; stopping it`);
    this.engine?.cancel(why);
    void this.containment.end();
  }

  async run(): Promise<void> {
    const { deps, a } = this;
    const run = a.run;
    const task = run.workflows[0]?.tasks[0];
    if (!task) throw new Error('the assignment has no task');
    const spool = join(deps.workDir, 'spool', a.task_id);
    const logs = (this.logs = new UploadingLogStore(spool, run.id, deps.client, this.lease, () =>
      this.fence('the server refused a log upload: the lease is gone'),
    ));
    const sha = run.context.commit?.sha;
    this.heartbeat = setInterval(() => void this.beat(), Math.max(100, a.lease_ms / 3));
    // The claim started the lease just before its answer arrived (the margin covers the trip).
    this.armWatchdog(this.leasedAt);
    try {
      if (sha && run.workflows[0]?.spec.checkout.enabled !== false) {
        const url = `${deps.client.server}${a.git_path}`;
        await deps.workspaces.ensureCommit(run.repoId, url, a.token, sha);
      }
      const native = withWorkerName(deps.executors.native, deps.workerName);
      const container = deps.executors.container && withWorkerName(deps.executors.container, deps.workerName);
      const workspaces = deps.workspaces.forTask(run.repoId, sha, a.task_id);
      this.engine = new RunEngine(
        {
          store: { applyChanges: (changes) => this.sendReport(changes) },
          logs,
          artifacts: new UploadingArtifactStore(
            deps.client,
            this.lease,
            new Map(task.cubes.map((c) => [c.slug, c.id])),
          ),
          native,
          ...(container ? { container } : {}),
          clock: systemClock,
          newId: randomUUID,
          workspaces: run.context.attachDir ? withRelease(workspaces, deps.client, this.lease) : workspaces,
          parallelism: deps.parallelism,
          ...(deps.actions ? { actions: deps.actions } : {}),
          idTokens: serverIdTokens(deps.client, this.lease),
        },
        run,
        a.secrets,
      );
      await this.engine.execute();
    } catch (error) {
      if (!this.fenced) {
        const message = `the worker could not run the task: ${error instanceof Error ? error.message : String(error)}`;
        for (const cube of task.cubes)
          if (cube.status === 'created' || cube.status === 'processing') {
            cube.status = 'failed';
            cube.errorMessage = message;
          }
      }
    } finally {
      await this.containment.end();
    }
    await this.reporting.catch(() => undefined);
    if (!this.fenced) await this.finish(logs, task.cubes);
    // Fenced: nothing new is sent, and what was in flight ends refused once the link is back.
    else await logs.settle();
    clearInterval(this.heartbeat);
    clearTimeout(this.watchdog);
    await rm(spool, { recursive: true, force: true });
  }

  /**
   * The lease runs out at the server no sooner than `lease_ms` after the server got the last
   * renewal, which is after the worker sent it: so a worker that stops once `lease_ms` passed
   * since it sent its last answered renewal stops before the server can hand the task on.
   */
  private armWatchdog(sentAt: number): void {
    clearTimeout(this.watchdog);
    const left = sentAt + this.a.lease_ms - Math.min(1000, this.a.lease_ms / 10) - Date.now();
    this.watchdog = setTimeout(
      () => this.fence(`the lease could not be renewed for ${Math.round(this.a.lease_ms / 1000)} s`),
      Math.max(0, left),
    );
  }

  /**
   * Renews the lease. A slow answer is waited for (an overloaded server still renews when it gets
   * to the request), while the next beats go out beside it, up to three at a time.
   */
  private async beat(): Promise<void> {
    if (this.fenced || this.beating >= 3) return;
    this.beating++;
    const sentAt = Date.now();
    try {
      const got = await this.deps.client.call<{ state?: string; reason?: string }>(
        'POST',
        `/worker/v1/tasks/${this.a.task_id}/heartbeat`,
        {
          token: this.a.token,
          json: { epoch: this.a.epoch },
          retryForMs: this.a.lease_ms,
          attemptMs: this.a.lease_ms,
        },
      );
      if (!this.fenced && sentAt > this.renewedSentAt) {
        this.renewedSentAt = sentAt;
        this.armWatchdog(sentAt);
      }
      if (got.body.state === 'canceling') this.cancel(got.body.reason ?? 'canceled');
    } catch (error) {
      // The watchdog stops a task whose lease could not be renewed; a refusal stops it at once,
      // unless it raced the final report, which ended the lease (its own answer decides then).
      if (error instanceof LeaseLostError && !this.finishing) this.fence('the server says the lease is gone');
    } finally {
      this.beating--;
    }
  }

  /**
   * Reports the engine's changed cubes; reports are sent in order, one at a time. A cube that
   * ended is reported once the server holds its whole log: the server's run may end with that
   * report, and its log must be complete by then.
   */
  private sendReport(changes: RunChanges): Promise<void> {
    const cubes = (changes.cubes ?? []).map((cube) => report(cube, this.cancelReason));
    if (cubes.length === 0 || this.fenced) return Promise.resolve();
    const send = async () => {
      for (const cube of cubes) if (isTerminal(cube.status)) await this.logs?.flushCube(cube.id);
      if (this.fenced) return;
      await this.deps.client
        .call('POST', `/worker/v1/tasks/${this.a.task_id}/report`, {
          token: this.a.token,
          json: { epoch: this.a.epoch, cubes },
        })
        .catch((error: unknown) => {
          if (error instanceof LeaseLostError) this.fence('the server refused a report: the lease is gone');
        });
    };
    this.reporting = this.reporting.then(send, send);
    return Promise.resolve();
  }

  private async finish(logs: UploadingLogStore, cubes: CubeRun[]): Promise<void> {
    this.finishing = true;
    // A log the server holds differently even after resending from its size (the same 412 three
    // times) is reported without its check rather than never: the run must end.
    const refused = new Map<string, { size: string; times: number }>();
    const unchecked = new Set<string>();
    for (;;) {
      await logs.flush();
      if (this.fenced) return;
      try {
        const got = await this.deps.client.call<{ details?: Record<string, string> }>(
          'POST',
          `/worker/v1/tasks/${this.a.task_id}/report`,
          {
            token: this.a.token,
            json: {
              epoch: this.a.epoch,
              cubes: cubes.map((cube) => report(cube, this.cancelReason)),
              final: true,
              logs: Object.fromEntries(
                Object.entries(await logs.digests()).filter(([cubeId]) => !unchecked.has(cubeId)),
              ),
            },
          },
        );
        if (got.status === 200) return;
        if (got.status !== 412) throw new Error(`the final report answered ${got.status}`);
        for (const [cubeId, size] of Object.entries(got.body.details ?? {})) {
          const last = refused.get(cubeId);
          const times = last?.size === size ? last.times + 1 : 1;
          refused.set(cubeId, { size, times });
          if (times >= 3 && !unchecked.has(cubeId)) {
            unchecked.add(cubeId);
            this.deps.log(
              `task ${this.a.task_id}: the server's log of cube ${cubeId} still differs from what the cube wrote after resending; reporting the task's end without that check`,
            );
          }
          logs.rewind(cubeId, Number(size));
        }
      } catch (error) {
        if (error instanceof LeaseLostError)
          return this.fence('the final report was refused: the lease is gone');
        if (this.fenced) return;
        throw error;
      }
    }
  }
}
