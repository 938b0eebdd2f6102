import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeActionRef, parseActionRef, type ActionRef } from '../../core/actions/action-ref.js';
import {
  evaluateCondition,
  ExprError,
  interpolate,
  type ExprContext,
  type Value,
} from '../../core/actions/expr.js';
import { parseActionMeta, type ActionMeta } from '../../core/actions/metadata.js';
import type { CubeExit } from '../../ports/executor.js';
import type { ActionSource, ImageBuilder } from '../../ports/action-source.js';
import { runnerVars, type RunnerPlace, type RunnerVars } from './action-env.js';
import { runComposite } from './composite.js';
import { runDocker } from './docker-action.js';
import { hashFiles } from './hash-files.js';
import {
  ENV_SHIM,
  runStepProcess,
  shellQuote,
  type StepHost,
  type StepResult,
  type StepSpec,
  within,
} from './step-process.js';

/** What running actions needs besides the executors. */
export interface ActionDeps {
  source: ActionSource;
  /** Builds docker actions' Dockerfiles; absent without a container runtime. */
  images?: ImageBuilder;
  /** The Node.js binary that runs node actions (the one running Conveyor). */
  node: string;
  /** The base actions come from (CONVEYOR_ACTIONS_URL), also GITHUB_SERVER_URL. */
  serverUrl: string;
}

export interface ActionCubeRequest {
  deps: ActionDeps;
  host: StepHost;
  place: RunnerPlace;
  /** The `action:` reference and `with:` values, `${{ }}` already resolved. */
  action: string;
  with: Record<string, string>;
  /** The cube's environment, and the PATH additions of earlier cubes of the task. */
  env: Record<string, string>;
  path: string[];
}

export interface ActionOutcome {
  exit: CubeExit;
  outputs: Record<string, string>;
  /** GITHUB_ENV and GITHUB_PATH: they reach later cubes of the task. */
  env: Record<string, string>;
  path: string[];
  errorMessage?: string;
}

/** An action ready to run: its files, metadata, and how to name it. */
export interface LoadedAction {
  ref: ActionRef;
  label: string;
  /** The action's repository (or the workspace, for ./path actions); `dir` is inside it. */
  root: string;
  dir: string;
  meta: ActionMeta;
  /** The commit (repository actions) or a hash of the files (local ones), for image tags. */
  version: string;
}

const MAX_DEPTH = 10;

/**
 * One action cube: loads the action and runs it as GitHub's runner would, in the cube's own
 * task workspace. GITHUB_ENV and GITHUB_PATH written by any of its processes apply to the ones
 * after, and to later cubes of the task.
 */
export class ActionRun {
  readonly vars: RunnerVars;
  envAdds: Record<string, string> = {};
  pathAdds: string[];
  status: 'success' | 'failure' | 'cancelled' = 'success';
  /** Set when the cube must stop (timeout, cancel, an error that is not an exit code). */
  stopped: CubeExit | undefined;
  failure: string | undefined;
  /** The exit code of the first process that failed: the cube's exit code. */
  failedCode: number | undefined;
  private readonly actionsDir: string;

  /** The first `::error::` of the process running now: it explains a failure better than an exit code. */
  private stepError: string | undefined;

  constructor(readonly req: ActionCubeRequest) {
    const onCommand = req.host.onCommand.bind(req.host);
    req.host.onCommand = (event) => {
      if (event.kind === 'annotation' && event.level === 'error')
        this.stepError ??= `${event.location ? `${event.location}: ` : ''}${event.message}`;
      onCommand(event);
    };
    this.vars = runnerVars(req.place);
    this.pathAdds = [...req.path];
    this.actionsDir = join(req.place.dirs.root, '_actions');
    mkdirSync(this.actionsDir, { recursive: true });
  }

  get host(): StepHost {
    return this.req.host;
  }

  /** The environment every process of the action starts from. */
  baseEnv(): Record<string, string> {
    return { ...this.req.env, ...this.vars.env, ...this.envAdds };
  }

  async run(): Promise<ActionOutcome> {
    const outputs = await this.runAction(this.req.action, this.req.with, {}, 0);
    const exit: CubeExit = this.stopped ?? {
      kind: 'exited',
      code: this.status === 'success' ? 0 : (this.failedCode ?? 1),
    };
    return {
      exit,
      outputs: outputs ?? {},
      env: this.envAdds,
      path: this.pathAdds,
      ...(this.failure && this.status !== 'success' ? { errorMessage: this.failure } : {}),
    };
  }

  /** Runs one action (the cube's, or a composite's `uses`); undefined when it could not run. */
  async runAction(
    text: string,
    given: Record<string, string>,
    stepEnv: Record<string, string>,
    depth: number,
  ): Promise<Record<string, string> | undefined> {
    if (depth >= MAX_DEPTH) return this.fail(`actions nest deeper than ${MAX_DEPTH} levels at ${text}`);
    let action: LoadedAction;
    try {
      action = await this.load(text);
    } catch (error) {
      return this.fail(error instanceof Error ? error.message : String(error));
    }
    try {
      const inputs = this.inputs(action, given);
      const runs = action.meta.runs;
      if (runs.using === 'composite') return await runComposite(this, action, inputs, stepEnv, depth);
      if (runs.using === 'docker') return await runDocker(this, action, inputs, stepEnv);
      return await this.runNode(action, inputs, stepEnv);
    } catch (error) {
      // An expression of action.yml that does not evaluate (a bad default, pre-if or arg).
      if (!(error instanceof ExprError)) throw error;
      return this.fail(`${action.label}: ${error.message}`);
    }
  }

  /** Ends the cube with an error that is not a process's exit code (a bad reference, a fetch failure). */
  fail(message: string): undefined {
    this.status = 'failure';
    this.failure ??= message;
    this.stopped ??= { kind: 'error', message };
    return undefined;
  }

  private async load(text: string): Promise<LoadedAction> {
    const ref = parseActionRef(text);
    if ('error' in ref) throw new Error(`action ${text}: ${ref.error}`);
    if (ref.kind === 'docker') {
      // `uses: docker://image` takes `with: {entrypoint, args}`, as on GitHub.
      const meta: ActionMeta = {
        name: ref.image,
        inputs: { entrypoint: { required: false }, args: { required: false } },
        outputs: {},
        runs: { using: 'docker', image: text, args: [], env: {} },
      };
      const workspace = this.req.place.dirs.workspace;
      return { ref, label: text, root: workspace, dir: workspace, meta, version: '' };
    }
    let root: string;
    let version: string;
    if (ref.kind === 'local') {
      root = this.req.place.dirs.workspace;
      version = '';
    } else {
      const fetched = await this.req.deps.source
        .fetch(
          { owner: ref.owner, repo: ref.repo, ref: ref.ref, ...(ref.url ? { url: ref.url } : {}) },
          this.actionsDir,
        )
        .catch((error: unknown) => {
          throw new Error(`action ${text}: ${error instanceof Error ? error.message : String(error)}`, {
            cause: error,
          });
        });
      this.host.note(`action ${describeActionRef(ref)}: ${fetched.note}`);
      root = fetched.dir;
      version = fetched.sha;
    }
    const dir = ref.path ? join(root, ref.path) : root;
    const file = ['action.yml', 'action.yaml'].map((f) => join(dir, f)).find((f) => existsSync(f));
    // The runner reads (and builds) what the action names with its own rights: a symlink in the
    // repository must not lead it to files outside the action's repository or the workspace.
    if (file && !within(root, file))
      throw new Error(
        `action ${describeActionRef(ref)}: ${ref.path || 'action.yml'} leads outside ${ref.kind === 'local' ? 'the workspace' : 'its repository'}`,
      );
    if (!file)
      throw new Error(
        `action ${describeActionRef(ref)}: no action.yml or action.yaml in ${ref.path || 'its root'}`,
      );
    let meta: ActionMeta;
    try {
      meta = parseActionMeta(readFileSync(file, 'utf8'));
    } catch (error) {
      throw new Error(
        `action ${describeActionRef(ref)}: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
    }
    return { ref, label: describeActionRef(ref), root, dir, meta, version };
  }

  /** Input values: `with:` (names match ignoring case), else the default (an expression), else ''. */
  inputs(action: LoadedAction, given: Record<string, string>): Record<string, string> {
    const declared = action.meta.inputs;
    const names = Object.keys(declared);
    const out: Record<string, string> = {};
    const unexpected: string[] = [];
    for (const [key, value] of Object.entries(given)) {
      const name = names.find((n) => n.toLowerCase() === key.toLowerCase());
      if (name === undefined) unexpected.push(key);
      else if (declared[name]?.deprecationMessage)
        this.host.note(
          `input '${name}' of ${action.label} is deprecated: ${declared[name]?.deprecationMessage}`,
        );
      out[name ?? key] = value;
    }
    if (unexpected.length > 0)
      this.host.note(
        `${action.label}: unexpected input(s) ${unexpected.map((u) => `'${u}'`).join(', ')}; valid inputs: ${names.join(', ') || 'none'}`,
      );
    const ctx = this.context(action, out, {});
    for (const name of names) {
      if (name in out) continue;
      const def = declared[name]?.default;
      out[name] = def === undefined ? '' : interpolate(def, ctx);
    }
    return out;
  }

  /** The expression contexts inside an action. */
  context(
    action: LoadedAction,
    inputs: Record<string, string>,
    steps: Record<string, Value>,
    env?: Record<string, string>,
  ): ExprContext {
    const repo = action.ref.kind === 'repo' ? `${action.ref.owner}/${action.ref.repo}` : '';
    return {
      contexts: {
        github: {
          ...this.vars.github,
          action_path: action.dir,
          action_repository: repo,
          action_ref: action.ref.kind === 'repo' ? action.ref.ref : '',
        },
        inputs,
        steps,
        env: env ?? this.baseEnv(),
        runner: this.vars.runner,
        job: { status: this.status },
        strategy: {},
        matrix: {},
        vars: {},
      },
      status: this.status,
      hashFiles: (patterns) => hashFiles(this.req.place.dirs.workspace, patterns),
    };
  }

  /** INPUT_<NAME> variables (spaces become _, upper case) and GITHUB_ACTION_*. */
  actionEnv(action: LoadedAction, inputs: Record<string, string>): Record<string, string> {
    const env: Record<string, string> = {};
    for (const [name, value] of Object.entries(inputs))
      env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] = value;
    env.GITHUB_ACTION_PATH = action.dir;
    env.GITHUB_ACTION_REPOSITORY = action.ref.kind === 'repo' ? `${action.ref.owner}/${action.ref.repo}` : '';
    env.GITHUB_ACTION_REF = action.ref.kind === 'repo' ? action.ref.ref : '';
    return env;
  }

  /** Runs a process and folds what it wrote (env, path) into the cube's state. */
  async process(spec: StepSpec): Promise<StepResult> {
    this.host.note(`${spec.label}`);
    this.stepError = undefined;
    const result = await runStepProcess(this.host, spec);
    Object.assign(this.envAdds, result.env);
    this.pathAdds = [...result.path, ...this.pathAdds];
    const { exit } = result;
    const stepError = this.stepError as string | undefined; // set by onCommand while the step ran
    if (exit.kind === 'exited' && exit.code !== 0) {
      this.failedCode ??= exit.code;
      this.failure ??= `${spec.label} exited with code ${exit.code}${stepError ? `: ${stepError}` : ''}`;
    } else if (exit.kind !== 'exited') {
      this.stopped ??= exit;
      if (exit.kind === 'error') this.failure ??= exit.message;
      this.status = exit.kind === 'canceled' ? 'cancelled' : 'failure';
    }
    return result;
  }

  /** pre, main and post of a node action; post runs even when main failed (post-if: always()). */
  private async runNode(
    action: LoadedAction,
    inputs: Record<string, string>,
    stepEnv: Record<string, string>,
  ): Promise<Record<string, string> | undefined> {
    const runs = action.meta.runs;
    if (runs.using !== 'node') return undefined;
    const current = `node${process.versions.node.split('.')[0] ?? ''}`;
    if (runs.version !== current)
      this.host.note(`${action.label} declares ${runs.version}; it runs with Node.js ${process.version}`);
    const shim = join(this.actionsDir, 'conveyor-env-shim.cjs');
    if (!existsSync(shim)) writeFileSync(shim, ENV_SHIM);
    const file = (phase: 'pre' | 'main' | 'post') => (phase === 'main' ? runs.main : runs[phase]);
    return this.runPhases(
      action,
      inputs,
      {
        pre: runs.pre ? (runs.preIf ?? 'always()') : undefined,
        post: runs.post ? (runs.postIf ?? 'always()') : undefined,
      },
      (phase, stateEnv) => ({
        label: `run ${action.label} (${phase})`,
        script: `exec ${shellQuote(this.req.deps.node)} --require ${shellQuote(shim)} ${shellQuote(join(action.dir, file(phase) ?? ''))}`,
        env: { ...this.baseEnv(), ...this.actionEnv(action, inputs), ...stepEnv, ...stateEnv },
        path: this.pathAdds,
      }),
    );
  }

  /**
   * pre (when given, if its condition holds), main (if all went well), post (when given, if its
   * condition holds: by default also after a failure). State written by one reaches the next as
   * STATE_*; the outputs of all three add up.
   */
  async runPhases(
    action: LoadedAction,
    inputs: Record<string, string>,
    conditions: { pre?: string | undefined; post?: string | undefined },
    spec: (phase: 'pre' | 'main' | 'post', stateEnv: Record<string, string>) => StepSpec,
  ): Promise<Record<string, string>> {
    const outputs: Record<string, string> = {};
    let state: Record<string, string> = {};
    const phases: ['pre' | 'main' | 'post', string | undefined][] = [
      ['pre', conditions.pre],
      ['main', 'success()'],
      ['post', conditions.post],
    ];
    for (const [phase, condition] of phases) {
      if (condition === undefined || this.stopped) continue;
      if (!evaluateCondition(condition, this.context(action, inputs, {}), 'success()')) continue;
      const stateEnv = Object.fromEntries(Object.entries(state).map(([k, v]) => [`STATE_${k}`, v]));
      const result = await this.process(spec(phase, stateEnv));
      Object.assign(outputs, result.outputs);
      state = { ...state, ...result.state };
      if (result.exit.kind === 'exited' && result.exit.code !== 0) this.status = 'failure';
    }
    return outputs;
  }
}
