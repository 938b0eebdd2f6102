/** Tables of the worker protocol (migration 0040_workers); timestamps are epoch milliseconds. */
export interface WorkerTables {
  worker_tokens: WorkerTokensTable;
  workers: WorkersTable;
  worker_tasks: WorkerTasksTable;
}

/** Tokens that open the worker protocol (and nothing else); stored by sha256 only. */
export interface WorkerTokensTable {
  id: string;
  note: string;
  token_hash: string;
  created_at: number;
  created_by: string;
  revoked_at: number | null;
  last_used_at: number | null;
}

/** One row per worker name, written at registration and on every claim and heartbeat. */
export interface WorkersTable {
  name: string;
  token_id: string;
  tags_json: string;
  slots: number;
  running: number;
  version: string;
  executor: string;
  containment: string;
  state: string;
  registered_at: number;
  last_seen_at: number;
  /** 1: the worker also takes tasks that name no worker tag (embedded workers, `--untagged`). */
  untagged: number;
}

/**
 * A task handed to workers: queued, then leased by one worker at a time. `epoch` grows with every
 * lease (the fencing token); `token_hash` is the hash of the current lease's task token.
 */
export interface WorkerTasksTable {
  task_id: string;
  run_id: string;
  repo_id: string;
  tags_json: string;
  state: string;
  attempt: number;
  max_attempts: number;
  epoch: number;
  worker_name: string | null;
  lease_until: number | null;
  token_hash: string | null;
  cancel_reason: string | null;
  message: string | null;
  queued_at: number;
  updated_at: number;
  /** What the worker needs to run the task (no secrets: they are read at claim time). */
  payload_json: string;
  /** The last state the worker reported: cubes and the task, as JSON. */
  report_json: string | null;
  /** Per cube, the server log size when this lease began: worker offsets count from there. */
  log_bases_json: string | null;
  /** How the task ended (migration 0045): `{}` reported by its worker, or `{message, canceled?}`. */
  outcome_json: string | null;
}
