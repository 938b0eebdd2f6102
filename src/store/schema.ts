import type { Generated } from 'kysely';

/** Timestamps are epoch milliseconds (bigint); JSON columns hold text. */
export interface RunsTable {
  id: string;
  repo_id: string;
  slug: number;
  status: string;
  event_type: string;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  updated_at: number;
  error_messages: string;
  user_json: string | null;
  context_json: string;
  version: number;
}

interface NodeColumns {
  id: string;
  run_id: string;
  position: number;
  slug: string;
  status: string;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  updated_at: number;
  spec_json: string;
  version: number;
}

export type RunWorkflowsTable = NodeColumns;

export interface RunTasksTable extends NodeColumns {
  workflow_id: string;
  needs_json: string;
  outputs_json: string;
}

export interface RunCubesTable extends NodeColumns {
  task_id: string;
  needs_json: string;
  allow_failure: number;
  outputs_json: string;
  exit_code: number | null;
  error_message: string | null;
  artifacts_json: string;
}

export interface RepoRunCountersTable {
  repo_id: string;
  last_slug: Generated<number>;
}

export interface Database {
  runs: RunsTable;
  run_workflows: RunWorkflowsTable;
  run_tasks: RunTasksTable;
  run_cubes: RunCubesTable;
  repo_run_counters: RepoRunCountersTable;
}
