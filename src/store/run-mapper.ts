import type { RunStatus } from '../core/run/status.js';
import type {
  ArtifactRecord,
  CubeRun,
  Dates,
  EventType,
  RunRecord,
  TaskRun,
  WorkflowRun,
} from '../core/run/model.js';
import type { RunCubesTable, RunsTable, RunTasksTable, RunWorkflowsTable } from './schema.js';

type DateColumns = Pick<RunsTable, 'created_at' | 'started_at' | 'finished_at' | 'updated_at'>;

export function datesToRow(d: Dates): DateColumns {
  return {
    created_at: d.createdAt,
    started_at: d.startedAt ?? null,
    finished_at: d.finishedAt ?? null,
    updated_at: d.updatedAt,
  };
}

export function datesFromRow(row: DateColumns): Dates {
  const dates: Dates = { createdAt: Number(row.created_at), updatedAt: Number(row.updated_at) };
  if (row.started_at !== null) dates.startedAt = Number(row.started_at);
  if (row.finished_at !== null) dates.finishedAt = Number(row.finished_at);
  return dates;
}

export function runToRow(run: RunRecord, slug: number): RunsTable {
  return {
    id: run.id,
    repo_id: run.repoId,
    slug,
    status: run.status,
    event_type: run.eventType,
    ...datesToRow(run.dates),
    error_messages: JSON.stringify(run.errorMessages),
    user_json: run.user ? JSON.stringify(run.user) : null,
    context_json: JSON.stringify(run.context),
    version: run.version,
    claimed_by: null,
    lease_until: null,
    cancel_reason: null,
  };
}

export function workflowToRow(runId: string, w: WorkflowRun, position: number): RunWorkflowsTable {
  return {
    id: w.id,
    run_id: runId,
    position,
    slug: w.slug,
    status: w.status,
    ...datesToRow(w.dates),
    spec_json: JSON.stringify(w.spec),
    version: w.version,
  };
}

export function taskToRow(runId: string, workflowId: string, t: TaskRun, position: number): RunTasksTable {
  return {
    id: t.id,
    run_id: runId,
    workflow_id: workflowId,
    position,
    slug: t.slug,
    status: t.status,
    ...datesToRow(t.dates),
    spec_json: JSON.stringify(t.spec),
    needs_json: JSON.stringify(t.needs),
    outputs_json: JSON.stringify(t.outputs),
    version: t.version,
  };
}

export function cubeToRow(runId: string, taskId: string, c: CubeRun, position: number): RunCubesTable {
  return {
    id: c.id,
    run_id: runId,
    task_id: taskId,
    position,
    slug: c.slug,
    status: c.status,
    ...datesToRow(c.dates),
    spec_json: JSON.stringify(c.spec),
    needs_json: JSON.stringify(c.needs),
    allow_failure: c.allowFailure ? 1 : 0,
    outputs_json: JSON.stringify(c.outputs),
    exit_code: c.exitCode ?? null,
    error_message: c.errorMessage ?? null,
    artifacts_json: JSON.stringify(c.artifacts),
    version: c.version,
  };
}

/** Builds run trees from rows that are ordered by position. */
export function assembleRun(
  row: RunsTable,
  workflows: RunWorkflowsTable[],
  tasks: RunTasksTable[],
  cubes: RunCubesTable[],
): RunRecord {
  const cubesByTask = groupBy(cubes, (c) => c.task_id);
  const tasksByWorkflow = groupBy(tasks, (t) => t.workflow_id);
  return {
    id: row.id,
    repoId: row.repo_id,
    slug: String(row.slug),
    status: row.status as RunStatus,
    dates: datesFromRow(row),
    eventType: row.event_type as EventType,
    errorMessages: JSON.parse(row.error_messages) as string[],
    ...(row.user_json ? { user: JSON.parse(row.user_json) as RunRecord['user'] } : {}),
    context: JSON.parse(row.context_json) as RunRecord['context'],
    version: Number(row.version),
    workflows: workflows.map((w) => ({
      id: w.id,
      slug: w.slug,
      status: w.status as RunStatus,
      dates: datesFromRow(w),
      spec: JSON.parse(w.spec_json) as WorkflowRun['spec'],
      version: Number(w.version),
      tasks: (tasksByWorkflow.get(w.id) ?? []).map((t) => ({
        id: t.id,
        slug: t.slug,
        status: t.status as RunStatus,
        dates: datesFromRow(t),
        needs: JSON.parse(t.needs_json) as string[],
        outputs: JSON.parse(t.outputs_json) as Record<string, string>,
        spec: JSON.parse(t.spec_json) as TaskRun['spec'],
        version: Number(t.version),
        cubes: (cubesByTask.get(t.id) ?? []).map(cubeFromRow),
      })),
    })),
  };
}

function cubeFromRow(c: RunCubesTable): CubeRun {
  return {
    id: c.id,
    slug: c.slug,
    status: c.status as RunStatus,
    dates: datesFromRow(c),
    needs: JSON.parse(c.needs_json) as string[],
    allowFailure: c.allow_failure === 1,
    artifacts: JSON.parse(c.artifacts_json) as ArtifactRecord[],
    outputs: JSON.parse(c.outputs_json) as Record<string, string>,
    ...(c.exit_code !== null ? { exitCode: Number(c.exit_code) } : {}),
    ...(c.error_message !== null ? { errorMessage: c.error_message } : {}),
    spec: JSON.parse(c.spec_json) as CubeRun['spec'],
    version: Number(c.version),
  };
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = out.get(k);
    if (list) list.push(item);
    else out.set(k, [item]);
  }
  return out;
}
