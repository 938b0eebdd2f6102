import type { ArtifactRecord, CubeRun, Dates, RunRecord, TaskRun, WorkflowRun } from '../core/run/model.js';
import { progressOf } from '../core/run/progress.js';

/** Options of the presentation: how to link artifacts, and how to hide secret values. */
export interface PresentOptions {
  artifactUrl(
    artifact: ArtifactRecord,
    path: { workflow: string; task: string; cube: string },
  ): string | undefined;
  mask?(text: string): string;
  /** Why a task is not running yet (`waiting for a worker with tags […]`), if it waits. */
  taskMessage?(task: TaskRun): string | undefined;
}

type Json = Record<string, unknown>;

/** SourceCraft's `DatesByStage`. */
export interface DatesJson {
  created_at?: string;
  started_at?: string;
  finished_at?: string;
  updated_at?: string;
}

export interface ArtifactJson {
  id: string;
  local_path: string;
  dates: { registered_at?: string; obtained_at?: string; updated_at?: string };
  status: ArtifactRecord['status'];
  download_url?: string;
  files?: { path: string; size: number; sha256: string }[];
  error?: string;
}

export interface CubeJson {
  id: string;
  slug: string;
  dates: DatesJson;
  status: CubeRun['status'];
  artifacts: ArtifactJson[];
  relations: { needs: { name: string }[] };
  allow_failure: boolean;
  exit_code?: number;
  error_message?: string;
  outputs: Record<string, string>;
}

export interface ProgressJson {
  percent: number;
  current_cube?: CubeJson;
}

export interface TaskJson {
  id: string;
  slug: string;
  description: string;
  dates: DatesJson;
  status: TaskRun['status'];
  cubes: CubeJson[];
  progress: ProgressJson;
  relations: { needs: { name: string }[] };
  outputs: Record<string, string>;
  /** Conveyor's: why the task is not running yet, while it waits for a worker. */
  message?: string;
}

export interface WorkflowJson {
  id: string;
  slug: string;
  description: string;
  dates: DatesJson;
  status: WorkflowRun['status'];
  tasks: TaskJson[];
  progress: ProgressJson;
}

/** SourceCraft's `Run`, plus Conveyor's extra fields (marked in docs/api.md). */
export interface RunJson {
  id: string;
  slug: string;
  dates: DatesJson;
  status: RunRecord['status'];
  workflows: WorkflowJson[];
  event_type: RunRecord['eventType'];
  error_messages: string[];
  user?: { id: string; slug: string };
  pull?: { id: string; slug: string };
  /** Conveyor's: the commit the run is on, and what started it. */
  commit?: { sha: string; ref: string; message: string };
  trigger?: string;
  /** Conveyor's: the config's warnings (e.g. the deprecated .src.ci.yaml). */
  warnings?: string[];
}

function iso(ms: number | undefined): string | undefined {
  return ms === undefined ? undefined : new Date(ms).toISOString();
}

export function datesJson(d: Dates): DatesJson {
  return compact<DatesJson>({
    created_at: iso(d.createdAt),
    started_at: iso(d.startedAt),
    finished_at: iso(d.finishedAt),
    updated_at: iso(d.updatedAt),
  });
}

/** A run in the shape of SourceCraft's `Run` schema, with Conveyor's extra fields alongside. */
export function runJson(run: RunRecord, options: PresentOptions): RunJson {
  return compact<RunJson>({
    id: run.id,
    slug: run.slug,
    dates: datesJson(run.dates),
    status: run.status,
    workflows: run.workflows.map((w) => workflowJson(w, options)),
    event_type: run.eventType,
    error_messages: run.errorMessages.map((m) => options.mask?.(m) ?? m),
    user: run.user,
    pull: run.context.pullSlug ? { id: run.context.pullSlug, slug: run.context.pullSlug } : undefined,
    commit: run.context.commit
      ? { sha: run.context.commit.sha, ref: run.context.commit.ref, message: run.context.commit.message }
      : undefined,
    trigger: run.context.trigger,
    warnings: run.context.warnings,
  });
}

export function workflowJson(w: WorkflowRun, options: PresentOptions): WorkflowJson {
  const cubes = w.tasks.flatMap((t) => t.cubes);
  return {
    id: w.id,
    slug: w.slug,
    description: '',
    dates: datesJson(w.dates),
    status: w.status,
    tasks: w.tasks.map((t) => taskJson(w, t, options)),
    progress: progressJson(cubes, w, options),
  };
}

function taskJson(w: WorkflowRun, t: TaskRun, options: PresentOptions): TaskJson {
  return {
    id: t.id,
    slug: t.slug,
    description: '',
    dates: datesJson(t.dates),
    status: t.status,
    cubes: t.cubes.map((c) => cubeJson(w, t, c, options)),
    progress: progressJson(t.cubes, w, options, t),
    relations: { needs: t.needs.map((name) => ({ name })) },
    outputs: maskValues(t.outputs, options),
    ...(options.taskMessage?.(t) ? { message: options.taskMessage(t) } : {}),
  };
}

function progressJson(
  cubes: readonly CubeRun[],
  w: WorkflowRun,
  options: PresentOptions,
  task?: TaskRun,
): ProgressJson {
  const { percent, currentCube } = progressOf(cubes);
  if (!currentCube) return { percent };
  const owner = task ?? w.tasks.find((t) => t.cubes.includes(currentCube));
  return owner ? { percent, current_cube: cubeJson(w, owner, currentCube, options) } : { percent };
}

export function cubeJson(w: WorkflowRun, t: TaskRun, c: CubeRun, options: PresentOptions): CubeJson {
  const path = { workflow: w.slug, task: t.slug, cube: c.slug };
  return compact<CubeJson>({
    id: c.id,
    slug: c.slug,
    dates: datesJson(c.dates),
    status: c.status,
    artifacts: c.artifacts.map((a) => artifactJson(a, options.artifactUrl(a, path))),
    relations: { needs: c.needs.map((name) => ({ name })) },
    allow_failure: c.allowFailure,
    exit_code: c.exitCode,
    error_message:
      c.errorMessage === undefined ? undefined : (options.mask?.(c.errorMessage) ?? c.errorMessage),
    outputs: maskValues(c.outputs, options),
  });
}

export function artifactJson(a: ArtifactRecord, downloadUrl: string | undefined): ArtifactJson {
  return compact<ArtifactJson>({
    id: a.id,
    local_path: a.localPath,
    dates: compact({
      registered_at: iso(a.registeredAt),
      obtained_at: iso(a.obtainedAt),
      updated_at: iso(a.updatedAt),
    }),
    status: a.status,
    download_url: downloadUrl,
    files: a.files,
    error: a.error,
  });
}

function maskValues(values: Record<string, string>, options: PresentOptions): Record<string, string> {
  if (!options.mask) return values;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(values)) out[k] = options.mask(v);
  return out;
}

/** Drops undefined fields, so absent values are absent in JSON rather than null. */
function compact<T extends object>(obj: T): T {
  const record = obj as Json;
  for (const key of Object.keys(record)) if (record[key] === undefined) delete record[key];
  return obj;
}
