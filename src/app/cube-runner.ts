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
import { collectArtifacts } from './collect-artifacts.js';
import { ExpressionScope } from './expression-scope.js';

export interface CubeRunnerDeps {
  logs: LogStore;
  artifacts: ArtifactStore;
  native: Executor;
  container?: Executor;
  clock: Clock;
  newId: () => string;
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
  artifacts: ArtifactRecord[];
}

/** Runs one cube start to end: variables, script file, process, logs, env/output files, artifacts. */
export async function runCube(deps: CubeRunnerDeps, job: CubeJob): Promise<CubeResult> {
  const { cube, dirs, index } = job;
  const files = {
    env: join(dirs.data, `cube-${index}.env`),
    output: join(dirs.data, `cube-${index}.output`),
  };
  const scope = new ExpressionScope(job.secrets, job.workflow, job.task);
  const env = buildEnv(job, scope, files);
  const script = cube.spec.script?.map((line) => scope.resolve(line));
  const image = cube.spec.image ? resolveImage(cube.spec.image, scope) : undefined;
  const artifactPaths = cube.spec.artifacts.map((p) => scope.resolve(p));
  const sink = deps.logs.open(job.run.id, cube.id);
  try {
    const problem =
      scope.problem() ??
      (image && !deps.container
        ? 'this cube needs a container runtime, and none is configured (set CONVEYOR_CONTAINER_RUNTIME)'
        : undefined);
    if (problem) {
      sink.note(`cube not started: ${problem}`, deps.clock.now());
      return { event: { type: 'error' }, errorMessage: problem, outputs: {}, env: {}, artifacts: [] };
    }
    const exit = await execute(deps, job, { env, image, script: script?.join('\n'), sink });
    const result = afterExit(deps, job, exit, files, sink);
    if (artifactPaths.length > 0 && (exit.kind === 'exited' || exit.kind === 'timeout')) {
      result.artifacts = await collect(deps, job, artifactPaths, sink);
    }
    return result;
  } finally {
    sink.close();
  }
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
  return {
    ...predefined,
    ...scope.resolveAll(run.context.env),
    ...scope.resolveAll(workflow.spec.env),
    ...scope.resolveAll(task.spec.env),
    ...job.taskEnv,
    ...scope.resolveAll(cube.spec.env),
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
    sink: LogSink;
  },
): Promise<CubeExit> {
  const executor = how.image ? deps.container : deps.native;
  if (!executor) return { kind: 'error', message: 'no executor for this cube' };
  const { onOutput } = job;
  const masker = job.masker.stream();
  const write = (chunk: Buffer): void => {
    if (chunk.length === 0) return;
    how.sink.write(chunk, deps.clock.now());
    onOutput?.(chunk);
  };
  const process = executor.start({
    ...(how.script !== undefined ? { script: how.script } : {}),
    dataDir: job.dirs.data,
    key: `cube-${job.index}`,
    env: how.env,
    taskRoot: job.dirs.root,
    workspace: job.dirs.workspace,
    ...(how.image ? { image: how.image } : {}),
    timeoutMs: job.workflow.spec.maxCubeDurationMs,
    onOutput: masker.active ? (chunk) => write(masker.push(chunk)) : write,
  });
  job.onProcess(process);
  const exit = await process.done;
  write(masker.end());
  return exit;
}

function afterExit(
  deps: CubeRunnerDeps,
  job: CubeJob,
  exit: CubeExit,
  files: { env: string; output: string },
  sink: LogSink,
): CubeResult {
  const now = deps.clock.now();
  const limit = formatDuration(job.workflow.spec.maxCubeDurationMs);
  const result: CubeResult = { event: { type: 'error' }, outputs: {}, env: {}, artifacts: [] };
  switch (exit.kind) {
    case 'exited':
      result.exitCode = exit.code;
      result.event = { type: 'exit', code: exit.code };
      if (exit.code !== 0) result.errorMessage = `script exited with code ${exit.code}`;
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
  result.env = parsedEnv.values;
  result.outputs = parsedOutput.values;
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
