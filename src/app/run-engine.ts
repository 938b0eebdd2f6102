import { LogMasker } from '../core/run/mask.js';
import type { CubeRun, Dates, RunRecord, TaskRun, WorkflowRun } from '../core/run/model.js';
import {
  isTerminal,
  nextCubeStatus,
  rollUp,
  satisfiesDependents,
  type NodeEvent,
  type RunStatus,
} from '../core/run/status.js';
import type { CubeProcess } from '../ports/executor.js';
import type { RunStore } from '../ports/run-store.js';
import type { TaskDirs, WorkspaceProvider } from '../ports/workspace-provider.js';
import { PendingChanges } from './run-changes.js';
import { runCube, type CubeResult, type CubeRunnerDeps } from './cube-runner.js';
import type { TokenValues } from './expression-scope.js';
import {
  applyCubeReport,
  resetCube,
  type RemoteHandle,
  type RemoteTasks,
  type TaskReport,
} from './remote-tasks.js';

/** The message of a cube a server restart interrupted (the process running it is gone). */
const LOST_IN_RESTART =
  'Conveyor stopped while this cube was running (a crash or a restart of the server); it was ended as canceled. Restart the run to try again.';

/** What the engine hands a remote task besides the task itself (app/remote-tasks.ts). */
type RemoteCallbacks = Pick<Parameters<RemoteTasks['start']>[0], 'onReport' | 'onAttempt' | 'idToken'>;

export interface EngineDeps extends CubeRunnerDeps {
  store: RunStore;
  workspaces: WorkspaceProvider;
  /** How many cubes may run at once across the run. */
  parallelism: number;
  /** Mints the OIDC id tokens of `tokens:`; absent where no issuer is configured. */
  idTokens?: IdTokenMinter;
  /** Hands tasks to workers (every task of a server run, docs/workers.md); absent: every task runs here. */
  remote?: RemoteTasks;
}

/** What the engine itself uses of its deps: a worker's engine only reports changes (worker/). */
export type EngineRunDeps = Omit<EngineDeps, 'store'> & { store: Pick<RunStore, 'applyChanges'> };

/** Mints one id token for a task (app/id-tokens.ts). */
export type IdTokenMinter = (request: {
  run: RunRecord;
  workflow: WorkflowRun;
  task: TaskRun;
  token: string;
}) => Promise<TokenValues>;

export type NodeKind = 'run' | 'workflow' | 'task' | 'cube';

/** What a front end (the CLI's live tree, the server's event stream) hears while a run executes. */
export interface EngineListener {
  onStatus?: (kind: NodeKind, path: string[], status: RunStatus, run: RunRecord) => void;
  onOutput?: (path: string[], chunk: Buffer) => void;
}

interface TaskState {
  workflow: WorkflowRun;
  task: TaskRun;
  /** Cubes not started yet, in config order; and every cube by name. */
  pending: CubeRun[];
  bySlug: Map<string, CubeRun>;
  preparing: boolean;
  dirs?: TaskDirs;
  env: Record<string, string>;
  /** PATH directories action cubes added ($GITHUB_PATH), newest first. */
  path: string[];
  /** Id tokens minted for this task, by token name (one JWT per task and token). */
  tokens: Map<string, Promise<TokenValues>>;
  processes: CubeProcess[];
  /** Set while the task runs on an external worker. */
  remote?: RemoteHandle;
  /** The worker's final report came (or the task ended without it): only then does the task end. */
  remoteEnded?: boolean;
}

/**
 * Executes a stored run (status `prepared`) to its end. Scheduling is event driven: each time
 * something finishes, `pump` starts what became ready and cancels what can no longer run, and the
 * changed nodes are written to the store together on the next tick.
 */
export class RunEngine {
  private readonly tasks = new Map<string, TaskState>();
  private readonly running = new Set<CubeRun>();
  private readonly pending: Promise<unknown>[] = [];
  private readonly changes: PendingChanges;
  private readonly masker: LogMasker;
  private cancelReason: string | undefined;
  private finish!: () => void;
  private readonly finished = new Promise<void>((resolve) => (this.finish = resolve));

  constructor(
    private readonly deps: EngineRunDeps,
    readonly run: RunRecord,
    private readonly secrets: Record<string, string>,
    private readonly listener: EngineListener = {},
  ) {
    this.masker = new LogMasker(Object.values(secrets));
    this.changes = new PendingChanges(deps.store, run);
    for (const workflow of run.workflows) {
      for (const task of workflow.tasks) {
        this.tasks.set(task.id, {
          workflow,
          task,
          pending: task.cubes.filter((c) => c.status === 'created'),
          bySlug: new Map(task.cubes.map((c) => [c.slug, c])),
          preparing: false,
          env: {},
          path: [],
          tokens: new Map(),
          processes: [],
        });
      }
    }
  }

  /** Runs until every cube has ended; resolves with the final run (also when it failed). */
  async execute(): Promise<RunRecord> {
    this.resumeTasks();
    this.pump();
    await this.finished;
    await Promise.all(this.pending);
    await this.changes.settle();
    const failure = this.changes.error;
    if (failure !== undefined) {
      throw failure instanceof Error
        ? failure
        : new Error(`run could not be stored: ${JSON.stringify(failure)}`);
    }
    return this.run;
  }

  /** Stops the run: running cubes are ended, nothing new starts, everything left ends `canceled`. */
  cancel(reason: string): void {
    if (this.cancelReason !== undefined || isTerminal(this.run.status)) return;
    this.cancelReason = reason;
    this.run.errorMessages.push(reason);
    this.changes.markRun();
    for (const state of this.tasks.values()) {
      for (const p of state.processes) p.cancel();
      state.remote?.cancel(reason);
    }
    this.pump();
  }

  private now(): number {
    return this.deps.clock.now();
  }

  private pump(): void {
    let changed = true;
    while (changed) {
      changed = false;
      for (const state of this.tasks.values()) changed = this.pumpTask(state) || changed;
    }
    this.rollUpAll();
    this.changes.schedule();
    if (isTerminal(this.run.status)) this.finish();
  }

  /** Advances one task; returns whether anything changed. */
  private pumpTask(state: TaskState): boolean {
    const { workflow, task } = state;
    if (task.status === 'created' && !state.preparing) {
      const deps = task.needs
        .map((n) => workflow.tasks.find((t) => t.slug === n))
        .filter((t): t is TaskRun => !!t);
      if (this.cancelReason !== undefined) return this.endTaskUnstarted(state, 'the run was canceled');
      if (!deps.every((d) => isTerminal(d.status))) return false;
      const blockers = deps.filter((d) => d.status !== 'success').map((d) => `'${d.slug}' (${d.status})`);
      if (blockers.length > 0)
        return this.endTaskUnstarted(state, `not started: it needs task ${blockers.join(', ')}`);
      this.startTask(state);
      return false;
    }
    if (task.status === 'processing' && state.remote) {
      // Cubes reported ended are not enough: their logs may still be on the way to the server.
      if (!state.remoteEnded || !task.cubes.every((c) => isTerminal(c.status))) return false;
      this.endTask(state);
      return true;
    }
    if (task.status !== 'processing' || !state.dirs) return false;
    // Only what ends can unblock other cubes or tasks, so only that asks for another pass.
    let unblocked = false;
    state.pending = state.pending.filter((cube) => {
      if (cube.status !== 'created') return false;
      if (this.cancelReason !== undefined) {
        this.setCube(state, cube, { type: 'cancel' }, 'the run was canceled before this cube started');
        unblocked = true;
        return false;
      }
      const blockers: string[] = [];
      for (const name of cube.needs) {
        const dep = state.bySlug.get(name);
        if (!dep) continue;
        if (!isTerminal(dep.status)) return true;
        if (!satisfiesDependents(dep)) blockers.push(`'${dep.slug}' (${dep.status})`);
      }
      if (blockers.length > 0) {
        this.setCube(
          state,
          cube,
          { type: 'dependency-failed' },
          `not started: it needs cube ${blockers.join(', ')}`,
        );
        unblocked = true;
        return false;
      }
      if (this.running.size >= this.deps.parallelism) return true;
      this.startCube(state, cube);
      return false;
    });
    if (state.pending.length === 0 && task.cubes.every((c) => isTerminal(c.status))) {
      this.endTask(state);
      return true;
    }
    return unblocked;
  }

  private startTask(state: TaskState): void {
    state.preparing = true;
    this.setStatus('task', [state.workflow.slug, state.task.slug], state.task, 'processing');
    this.changes.markTask(state.task);
    const remote = this.deps.remote;
    if (remote?.wants(state.task)) {
      const secrets = this.secrets;
      this.startRemoteTask(state, (callbacks) =>
        remote.start({ ...this.remoteTask(state), secrets, ...callbacks }),
      );
      return;
    }
    const key = `${this.run.workflows.indexOf(state.workflow)}-${state.workflow.tasks.indexOf(state.task)}-${state.task.slug}`;
    this.track(
      this.deps.workspaces.prepare(this.run.id, key, state.workflow.spec.checkout).then(
        (dirs) => {
          state.dirs = dirs;
          this.pump();
        },
        (error: unknown) => {
          const message = `task '${state.task.slug}': the workspace could not be prepared: ${error instanceof Error ? error.message : String(error)}`;
          this.run.errorMessages.push(message);
          this.changes.markRun();
          for (const cube of state.task.cubes) this.setCube(state, cube, { type: 'error' }, message);
          this.endTask(state);
          this.pump();
        },
      ),
    );
  }

  /**
   * A run resumed from the store (its server restarted, or another replica took it over): a task
   * that was on a worker goes on there; one that ran in a process of the stopped server is lost,
   * its unfinished cubes end with a message saying so.
   */
  private resumeTasks(): void {
    for (const state of this.tasks.values()) {
      if (state.task.status !== 'processing' || state.preparing) continue;
      state.preparing = true;
      const remote = this.deps.remote;
      if (remote?.resume && remote.wants(state.task)) {
        const open = remote.resume.bind(remote);
        this.startRemoteTask(state, (callbacks) => open({ ...this.remoteTask(state), ...callbacks }));
        continue;
      }
      for (const cube of state.task.cubes) {
        if (isTerminal(cube.status)) continue;
        const event =
          cube.status === 'created'
            ? ({ type: 'dependency-failed' } as const)
            : ({ type: 'cancel' } as const);
        this.setCube(state, cube, event, LOST_IN_RESTART);
      }
      this.endTask(state);
    }
  }

  private remoteTask(state: TaskState): { run: RunRecord; workflow: WorkflowRun; task: TaskRun } {
    return { run: this.run, workflow: state.workflow, task: state.task };
  }

  /**
   * The task runs on an external worker; its reports move the cubes here (app/remote-tasks.ts).
   * `open` starts it (`start`) or follows it where a worker already has it (`resume`).
   */
  private startRemoteTask(state: TaskState, open: (callbacks: RemoteCallbacks) => RemoteHandle): void {
    const handle = open({
      ...(this.deps.idTokens ? { idToken: (name: string) => this.idToken(state, name) } : {}),
      onReport: (report) => this.applyReport(state, report),
      onAttempt: (message) => {
        this.run.errorMessages.push(this.masker.maskText(message));
        this.changes.markRun();
        for (const cube of state.task.cubes) {
          if (cube.status === 'created') continue;
          resetCube(cube);
          this.setStatus('cube', [state.workflow.slug, state.task.slug, cube.slug], cube, 'created');
          this.changes.markCube(cube);
        }
        this.pump();
      },
    });
    state.remote = handle;
    if (this.cancelReason !== undefined) handle.cancel(this.cancelReason);
    this.track(
      handle.done.then((outcome) => {
        state.remoteEnded = true;
        const message = outcome.message ?? 'the worker ended the task without reporting this cube';
        if (outcome.message) {
          this.run.errorMessages.push(this.masker.maskText(outcome.message));
          this.changes.markRun();
        }
        for (const cube of state.task.cubes) {
          if (isTerminal(cube.status)) continue;
          const event = outcome.canceled ? ({ type: 'cancel' } as const) : ({ type: 'error' } as const);
          this.setCube(state, cube, event, message);
        }
        this.pump();
      }),
    );
  }

  private applyReport(state: TaskState, report: TaskReport): void {
    for (const got of report.cubes) {
      const cube = state.task.cubes.find((c) => c.id === got.id);
      if (!cube || isTerminal(cube.status)) continue;
      let changed = applyCubeReport(cube, got);
      const path = [state.workflow.slug, state.task.slug, cube.slug];
      changed = this.setStatus('cube', path, cube, got.status) || changed;
      if (got.finishedAt !== undefined && isTerminal(cube.status)) cube.dates.finishedAt = got.finishedAt;
      if (changed) this.changes.markCube(cube);
    }
    this.pump();
  }

  private endTaskUnstarted(state: TaskState, reason: string): boolean {
    for (const cube of state.task.cubes) this.setCube(state, cube, { type: 'dependency-failed' }, reason);
    this.endTask(state);
    return true;
  }

  private endTask(state: TaskState): void {
    const { task, workflow } = state;
    if (isTerminal(task.status)) return;
    if (task.status === 'processing') task.outputs = this.evaluateTaskOutputs(state);
    this.setStatus('task', [workflow.slug, task.slug], task, rollUp(task.cubes));
    this.changes.markTask(task);
    const dirs = state.dirs;
    for (const p of state.processes) p.killLeftovers();
    state.processes = [];
    if (dirs) this.track(this.deps.workspaces.release(dirs));
  }

  private evaluateTaskOutputs(state: TaskState): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [name, expression] of Object.entries(state.task.spec.outputs)) {
      out[name] = expression.replace(
        /\$\{\{\s*cubes\.([A-Za-z0-9_-]+)\.outputs\.([A-Za-z0-9_-]+)\s*\}\}/g,
        (_m, cube: string, key: string) => state.task.cubes.find((c) => c.slug === cube)?.outputs[key] ?? '',
      );
    }
    return out;
  }

  private startCube(state: TaskState, cube: CubeRun): void {
    this.running.add(cube);
    this.setCube(state, cube, { type: 'start' });
    const path = [state.workflow.slug, state.task.slug, cube.slug];
    // Called through the listener: a listener's onOutput may be a method that uses `this` (LiveTree).
    const listener = this.listener;
    const onOutput = listener.onOutput
      ? (p: string[], chunk: Buffer) => listener.onOutput?.(p, chunk)
      : undefined;
    const job = runCube(this.deps, {
      run: this.run,
      workflow: state.workflow,
      task: state.task,
      cube,
      index: state.task.cubes.indexOf(cube),
      dirs: state.dirs as TaskDirs,
      taskEnv: { ...state.env },
      taskPath: [...state.path],
      ...(this.deps.idTokens ? { idToken: (name: string) => this.idToken(state, name) } : {}),
      secrets: this.secrets,
      masker: this.masker,
      onProcess: (p) => {
        state.processes.push(p);
        if (this.cancelReason !== undefined) p.cancel();
      },
      ...(onOutput ? { onOutput: (chunk: Buffer) => onOutput(path, chunk) } : {}),
    }).catch((error: unknown): CubeResult => ({
      event: { type: 'error' },
      errorMessage: `internal error: ${error instanceof Error ? error.message : String(error)}`,
      outputs: {},
      env: {},
      artifacts: [],
    }));
    this.track(
      job.then((result) => {
        this.running.delete(cube);
        Object.assign(state.env, result.env);
        if (result.path) state.path = [...result.path];
        cube.outputs = result.outputs;
        cube.artifacts = result.artifacts;
        if (result.exitCode !== undefined) cube.exitCode = result.exitCode;
        this.setCube(state, cube, result.event, result.errorMessage);
        this.pump();
      }),
    );
  }

  /** The task's token `name`: minted on first use, then the same JWT for every cube of the task. */
  private idToken(state: TaskState, name: string): Promise<TokenValues> {
    let minted = state.tokens.get(name);
    if (!minted) {
      const mint = this.deps.idTokens as IdTokenMinter;
      minted = mint({ run: this.run, workflow: state.workflow, task: state.task, token: name });
      state.tokens.set(name, minted);
      minted.catch(() => state.tokens.delete(name));
    }
    return minted;
  }

  /** Moves a cube through the cube state machine (core/run/status.ts). */
  private setCube(state: TaskState, cube: CubeRun, event: NodeEvent, errorMessage?: string): void {
    if (errorMessage !== undefined) cube.errorMessage = errorMessage;
    this.setStatus(
      'cube',
      [state.workflow.slug, state.task.slug, cube.slug],
      cube,
      nextCubeStatus(cube.status, event),
    );
    this.changes.markCube(cube);
  }

  private rollUpAll(): void {
    for (const workflow of this.run.workflows) {
      if (this.setStatus('workflow', [workflow.slug], workflow, rollUp(workflow.tasks)))
        this.changes.markWorkflow(workflow);
    }
    const status = rollUp(this.run.workflows);
    if (this.setStatus('run', [], this.run, status === 'created' ? 'prepared' : status))
      this.changes.markRun();
  }

  /** Moves a node to `status`, keeping its dates; returns whether it changed. */
  private setStatus(
    kind: NodeKind,
    path: string[],
    node: { status: RunStatus; dates: Dates },
    status: RunStatus,
  ): boolean {
    if (node.status === status) return false;
    const now = this.now();
    node.status = status;
    node.dates.updatedAt = now;
    if (status === 'processing' && node.dates.startedAt === undefined) node.dates.startedAt = now;
    if (isTerminal(status)) node.dates.finishedAt = now;
    this.listener.onStatus?.(kind, path, status, this.run);
    return true;
  }

  private track(promise: Promise<unknown>): void {
    this.pending.push(promise.catch((error: unknown) => (this.changes.error ??= error)));
  }
}
