import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatDuration } from '../core/config/duration.js';
import type { ImageDef } from '../core/config/model.js';
import { parseEnvFile } from '../core/run/env-file.js';
import type { LogMasker } from '../core/run/mask.js';
import type { ArtifactRecord, CubeRun, RunRecord, TaskRun, WorkflowRun } from '../core/run/model.js';
import { predefinedEnv } from '../core/run/predefined-env.js';
import type { NodeEvent } from '../core/run/status.js';
import type { ArtifactStore } from '../ports/artifact-store.js';
import type { Clock } from '../ports/clock.js';
import type { CubeExit, CubeProcess, Executor } from '../ports/executor.js';
import type { LogSink, LogStore } from '../ports/log-store.js';
import type { TaskDirs } from '../ports/workspace-provider.js';
import { scanExpressions } from '../core/config/expressions.js';
import { ActionRun, type ActionDeps, type ActionOutcome } from './actions/run-action.js';
import { shellQuote, type StepHost } from './actions/step-process.js';
import { collectArtifacts } from './collect-artifacts.js';
import { ExpressionScope, type TokenValues } from './expression-scope.js';

export interface CubeRunnerDeps {
  logs: LogStore;
  artifacts: ArtifactStore;
  native: Executor;
  container?: Executor;
  clock: Clock;
  newId: () => string;
  /** Runs GitHub Actions cubes; without it they fail saying so. */
  actions?: ActionDeps;
}

export interface CubeJob {
  run: RunRecord;
  workflow: WorkflowRun;
  task: TaskRun;
  cube: CubeRun;
  /** Position of the cube in its task; names its helper files. */
  index: number;
  dirs: TaskDirs;
  /** Variables earlier cubes of the task wrote to $SOURCECRAFT_ENV. */
  taskEnv: Record<string, string>;
  secrets: Record<string, string>;
  /** Directories earlier cubes of the task added through $GITHUB_PATH, newest first. */
  taskPath: string[];
  /** The id token of `tokens.NAME` for this task (minted once per task); absent: no issuer. */
  idToken?: (name: string) => Promise<TokenValues>;
  masker: LogMasker;
  onProcess: (process: CubeProcess) => void;
  onOutput?: (chunk: Buffer) => void;
}

export interface CubeResult {
  /** How the cube ended, for the cube state machine. */
  event: NodeEvent;
  exitCode?: number;
  errorMessage?: string;
  outputs: Record<string, string>;
  env: Record<string, string>;
  /** Directories for PATH that later cubes of the task get ($GITHUB_PATH of action cubes). */
  path?: string[];
  artifacts: ArtifactRecord[];
}

/** Runs one cube start to end: variables, script file, process, logs, env/output files, artifacts. */
export async function runCube(deps: CubeRunnerDeps, given: CubeJob): Promise<CubeResult> {
  // The process running now, so a log that cannot be written stops the cube (see outputPipe).
  const current: { process?: CubeProcess } = {};
  const job: CubeJob = {
    ...given,
    onProcess: (process) => {
      current.process = process;
      given.onProcess(process);
    },
  };
  const { cube, dirs, index } = job;
  const files = {
    env: join(dirs.data, `cube-${index}.env`),
    output: join(dirs.data, `cube-${index}.output`),
  };
  const sink = deps.logs.open(job.run.id, cube.id);
  try {
    const tokens = await mintTokens(job);
    const scope = new ExpressionScope(job.secrets, job.workflow, job.task, tokens.values);
    const env = buildEnv(job, scope, files);
    scope.env = env;
    const script = cube.spec.script?.map((line) => scope.resolve(line));
    const image = cube.spec.image ? resolveImage(cube.spec.image, scope) : undefined;
    const action = cube.spec.action === undefined ? undefined : scope.resolve(cube.spec.action);
    const withValues = scope.resolveAll(cube.spec.with ?? {});
    const artifactPaths = cube.spec.artifacts.map((p) => scope.resolve(p));
    const problem =
      tokens.problem ??
      scope.problem() ??
      (image && !deps.container
        ? 'this cube needs a container runtime, and none is configured (set CONVEYOR_CONTAINER_RUNTIME)'
        : undefined) ??
      (action !== undefined && !deps.actions
        ? 'this cube runs a GitHub Action, and this runner has no action source'
        : undefined);
    if (problem) {
      sink.note(`cube not started: ${job.masker.maskText(problem)}`, deps.clock.now());
      return { event: { type: 'error' }, errorMessage: problem, outputs: {}, env: {}, artifacts: [] };
    }
    if (job.masker.skipped > 0)
      sink.note(
        `${job.masker.skipped} secret value(s) shorter than 4 characters are not masked in this log`,
        deps.clock.now(),
      );
    const out = outputPipe(deps, job, sink, () => current.process?.cancel());
    let ran: { exit: CubeExit; action?: ActionOutcome };
    if (action !== undefined && deps.actions) {
      const request = { action, with: withValues, env, deps: deps.actions };
      const outcome = await runActionCube(deps, job, request, out, sink);
      ran = { exit: outcome.exit, action: outcome };
    } else ran = { exit: await execute(deps, job, { env, image, script: script?.join('\n'), out }) };
    out.end();
    await sink.stored?.();
    const result = afterExit(deps, job, ran, files, sink);
    if (sink.failure !== undefined) {
      result.event = { type: 'error' };
      result.errorMessage = sink.failure;
    }
    if (artifactPaths.length > 0 && (ran.exit.kind === 'exited' || ran.exit.kind === 'timeout')) {
      result.artifacts = await collect(deps, job, artifactPaths, sink);
    }
    return result;
  } finally {
    sink.close();
  }
}

/** The id tokens this cube refers to (anywhere in its scopes), minted once per task; masked in logs. */
async function mintTokens(job: CubeJob): Promise<{ values: Record<string, TokenValues>; problem?: string }> {
  const { run, workflow, task, cube } = job;
  const texts = [
    ...Object.values(run.context.env),
    ...Object.values(workflow.spec.env),
    ...Object.values(task.spec.env),
    ...Object.values(cube.spec.env),
    ...(cube.spec.script ?? []),
    ...Object.values(cube.spec.with ?? {}),
    cube.spec.image?.name ?? '',
    cube.spec.image?.username ?? '',
    cube.spec.image?.password ?? '',
  ];
  const names = new Set<string>();
  for (const text of texts)
    if (text.includes('tokens.'))
      for (const ref of scanExpressions(text).refs)
        if (ref.context === 'tokens' && ref.path[0]) names.add(ref.path[0]);
  const values: Record<string, TokenValues> = {};
  for (const name of names) {
    if (!job.idToken)
      return { values, problem: `\${{ tokens.${name} }}: this runner has no id token issuer` };
    try {
      values[name] = await job.idToken(name);
      job.masker.add(values[name].id_token);
    } catch (error) {
      return {
        values,
        problem: `token '${name}': ${error instanceof Error ? error.message : String(error)}`,
      };
    }
  }
  return { values };
}

/** A cube's output on its way to the log: masked, then stored and shown live. */
interface OutputPipe {
  write(chunk: Buffer): void;
  end(): void;
}

function outputPipe(deps: CubeRunnerDeps, job: CubeJob, sink: LogSink, stop: () => void): OutputPipe {
  const masker = job.masker.stream();
  const { onOutput } = job;
  let stopped = false;
  const emit = (chunk: Buffer): void => {
    if (chunk.length === 0) return;
    sink.write(chunk, deps.clock.now());
    onOutput?.(chunk);
    if (sink.failure !== undefined && !stopped) {
      stopped = true;
      stop();
    }
  };
  return {
    write: (chunk) => emit(masker.active ? masker.push(chunk) : chunk),
    end: () => emit(masker.end()),
  };
}

/** An action cube: the action runner with the cube's executors, deadline and log. */
function runActionCube(
  deps: CubeRunnerDeps,
  job: CubeJob,
  request: { action: string; with: Record<string, string>; env: Record<string, string>; deps: ActionDeps },
  out: OutputPipe,
  sink: LogSink,
): Promise<ActionOutcome> {
  const { dirs } = job;
  const debug = request.env.ACTIONS_STEP_DEBUG === 'true' || job.secrets.ACTIONS_STEP_DEBUG === 'true';
  const host: StepHost = {
    native: deps.native,
    ...(deps.container ? { container: deps.container } : {}),
    dataDir: dirs.data,
    taskRoot: dirs.root,
    workspace: dirs.workspace,
    key: `cube-${job.index}`,
    deadline: deps.clock.now() + job.workflow.spec.maxCubeDurationMs,
    now: () => deps.clock.now(),
    onProcess: job.onProcess,
    write: (chunk) => out.write(chunk),
    note: (text) => sink.note(job.masker.maskText(text), deps.clock.now()),
    onCommand: (event) => {
      if (event.kind === 'mask') job.masker.add(event.value);
    },
    debug,
  };
  const place = {
    run: job.run,
    workflow: job.workflow,
    task: job.task,
    cube: job.cube,
    dirs,
    serverUrl: request.deps.serverUrl,
  };
  return new ActionRun({ ...request, host, place, path: job.taskPath }).run();
}

function buildEnv(
  job: CubeJob,
  scope: ExpressionScope,
  files: { env: string; output: string },
): Record<string, string> {
  const { run, workflow, task, cube, dirs } = job;
  const predefined = predefinedEnv({
    context: run.context,
    eventType: run.eventType,
    runSlug: run.slug,
    workflow: workflow.slug,
    task: task.slug,
    cube: cube.slug,
    checkoutEnabled: workflow.spec.checkout.enabled,
    paths: {
      root: dirs.root,
      workspace: dirs.workspace,
      taskData: dirs.data,
      envFile: files.env,
      outputFile: files.output,
    },
  });
  // SourceCraft's scopes, outer to inner: global, workflow, task, cube (inner wins). An `env:` value's
  // ${{ env.NAME }} reads the scopes outside its own, as they stand (predefined variables included).
  let env: Record<string, string> = { ...predefined };
  const layers = [run.context.env, workflow.spec.env, task.spec.env, job.taskEnv, cube.spec.env];
  for (const [i, layer] of layers.entries()) {
    scope.env = env;
    env = { ...env, ...(i === 3 ? layer : scope.resolveAll(layer)) };
  }
  return {
    ...env,
    SOURCECRAFT_ENV: files.env,
    SOURCECRAFT_OUTPUT: files.output,
    CONVEYOR_ENV: files.env,
    CONVEYOR_OUTPUT: files.output,
  };
}

function resolveImage(image: ImageDef, scope: ExpressionScope): ImageDef {
  return {
    ...image,
    name: scope.resolve(image.name),
    ...(image.username ? { username: scope.resolve(image.username) } : {}),
    ...(image.password ? { password: scope.resolve(image.password) } : {}),
  };
}

async function execute(
  deps: CubeRunnerDeps,
  job: CubeJob,
  how: {
    env: Record<string, string>;
    image: ImageDef | undefined;
    script: string | undefined;
    out: OutputPipe;
  },
): Promise<CubeExit> {
  const executor = how.image ? deps.container : deps.native;
  if (!executor) return { kind: 'error', message: 'no executor for this cube' };
  // Directories earlier action cubes added to $GITHUB_PATH come first, as on GitHub.
  const script =
    how.script !== undefined && !how.image && job.taskPath.length > 0
      ? `export PATH=${shellQuote(job.taskPath.join(':'))}:"$PATH"\n${how.script}`
      : how.script;
  const process = executor.start({
    ...(script !== undefined ? { script } : {}),
    dataDir: job.dirs.data,
    key: `cube-${job.index}`,
    env: how.env,
    taskRoot: job.dirs.root,
    workspace: job.dirs.workspace,
    ...(how.image ? { image: how.image } : {}),
    timeoutMs: job.workflow.spec.maxCubeDurationMs,
    onOutput: (chunk) => how.out.write(chunk),
  });
  job.onProcess(process);
  return process.done;
}

/**
 * The container runtime's own exit codes (docker and podman share them) say the script never ran;
 * reported as such, with where to look, instead of as the script's failure.
 */
function containerFailure(code: number): string | undefined {
  switch (code) {
    case 125:
      return 'the container runtime failed before the script started (exit 125: image not found or not pulled, or a bad run flag); its message is at the end of the log';
    case 126:
      return 'the container could not start the script, or a command in it is not executable (exit 126); sandboxes that refuse raised limits need CONVEYOR_CONTAINER_RUN_ARGS (see README); the log has the message';
    default:
      return undefined;
  }
}

function afterExit(
  deps: CubeRunnerDeps,
  job: CubeJob,
  ran: { exit: CubeExit; action?: ActionOutcome },
  files: { env: string; output: string },
  sink: LogSink,
): CubeResult {
  const { exit, action } = ran;
  const now = deps.clock.now();
  const limit = formatDuration(job.workflow.spec.maxCubeDurationMs);
  const result: CubeResult = { event: { type: 'error' }, outputs: {}, env: {}, artifacts: [] };
  switch (exit.kind) {
    case 'exited':
      result.exitCode = exit.code;
      result.event = { type: 'exit', code: exit.code };
      if (exit.code !== 0)
        result.errorMessage =
          action?.errorMessage ??
          (job.cube.spec.image ? containerFailure(exit.code) : undefined) ??
          `script exited with code ${exit.code}`;
      break;
    case 'timeout':
      result.event = { type: 'timeout' };
      result.errorMessage = `cube ran longer than max_cube_duration (${limit}); its processes were ended`;
      break;
    case 'canceled':
      result.event = { type: 'cancel' };
      result.errorMessage = 'canceled while running; its processes were ended';
      break;
    case 'error':
      result.errorMessage = exit.message;
      break;
  }
  if (result.errorMessage) sink.note(job.masker.maskText(result.errorMessage), now);
  // Read synchronously: usually the files do not exist, and a failed open costs less than a
  // round trip through the thread pool.
  const envFile = readIfExists(files.env);
  const outputFile = readIfExists(files.output);
  const parsedEnv = parseEnvFile(envFile);
  const parsedOutput = parseEnvFile(outputFile);
  result.env = { ...action?.env, ...parsedEnv.values };
  // Stored masked (D3, D10): whoever reads the run later sees `***`, whatever the secrets are then
  // (rotated, deleted) and whichever scope they came from (environment secrets too).
  const outputs = { ...parsedOutput.values, ...action?.outputs };
  for (const [key, value] of Object.entries(outputs)) outputs[key] = job.masker.maskText(value);
  result.outputs = outputs;
  if (result.errorMessage) result.errorMessage = job.masker.maskText(result.errorMessage);
  if (action?.path.length) result.path = action.path;
  const fileErrors = [
    ...parsedEnv.errors.map((e) => `$SOURCECRAFT_ENV ${e}`),
    ...parsedOutput.errors.map((e) => `$SOURCECRAFT_OUTPUT ${e}`),
  ];
  if (fileErrors.length > 0) {
    for (const error of fileErrors) sink.note(job.masker.maskText(error), now);
    if (result.event.type === 'exit' && result.event.code === 0) {
      result.event = { type: 'error' };
      result.errorMessage = job.masker.maskText(fileErrors.join('; '));
    }
  }
  return result;
}

async function collect(
  deps: CubeRunnerDeps,
  job: CubeJob,
  paths: string[],
  sink: LogSink,
): Promise<ArtifactRecord[]> {
  const records = await collectArtifacts({
    paths,
    workspace: job.dirs.workspace,
    key: { runSlug: job.run.slug, workflow: job.workflow.slug, task: job.task.slug, cube: job.cube.slug },
    store: deps.artifacts,
    now: () => deps.clock.now(),
    newId: deps.newId,
  });
  for (const record of records) {
    if (record.status === 'success') {
      const bytes = record.files.reduce((sum, f) => sum + f.size, 0);
      sink.note(
        `artifact ${record.localPath}: ${record.files.length} file(s), ${bytes} bytes stored`,
        deps.clock.now(),
      );
    } else
      sink.note(`artifact ${record.localPath}: ${record.status}: ${record.error ?? ''}`, deps.clock.now());
  }
  return records;
}

function readIfExists(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
