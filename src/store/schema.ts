import type { WorkerTables } from './worker-schema.js';
import type { SecurityTables } from './migrations-security.js';
import type { Generated } from 'kysely';
import type { LogChunksTable } from './migrations-logs.js';

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
  /** The server replica executing the run, and until when its claim holds. */
  claimed_by: string | null;
  lease_until: number | null;
  /** Set by a replica asked to cancel a run another replica executes. */
  cancel_reason: string | null;
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

interface RunTables {
  runs: RunsTable;
  run_workflows: RunWorkflowsTable;
  run_tasks: RunTasksTable;
  run_cubes: RunCubesTable;
  repo_run_counters: RepoRunCountersTable;
}

export interface UsersTable {
  id: string;
  slug: string;
  email: string;
  first_name: string;
  last_name: string;
  is_admin: number;
  created_at: number;
}

export interface TokensTable {
  id: string;
  user_id: string;
  hash: string;
  note: string;
  created_at: number;
  expires_at: number | null;
  revoked_at: number | null;
}

export interface OrgsTable {
  id: string;
  slug: string;
  name: string;
  created_at: number;
}

export interface OrgRolesTable {
  org_id: string;
  user_id: string;
  role: string;
}

export interface ReposTable {
  id: string;
  org_id: string;
  slug: string;
  name: string;
  description: string;
  visibility: string;
  clone_url: string;
  default_branch: string;
  poll_interval_ms: number;
  webhook_secret_enc: string;
  created_at: number;
}

export interface RepoRolesTable {
  repo_id: string;
  user_id: string;
  role: string;
}

export interface SecretsTable {
  scope: string;
  scope_id: string;
  name: string;
  value_enc: string;
  updated_at: number;
}

export interface ScheduleSlotsTable {
  repo_id: string;
  rule_key: string;
  slot: number;
}

export interface PollStateTable {
  repo_id: string;
  refs_json: string;
}

/** Every table; one type so the run store and the directory store share a connection. */
export interface Database extends RunTables, WorkerTables, SecurityTables {
  users: UsersTable;
  tokens: TokensTable;
  orgs: OrgsTable;
  org_roles: OrgRolesTable;
  repos: ReposTable;
  repo_roles: RepoRolesTable;
  secrets: SecretsTable;
  schedule_slots: ScheduleSlotsTable;
  poll_state: PollStateTable;
  environments: EnvironmentsTable;
  releases: ReleasesTable;
  deploy_runs: DeployRunsTable;
  deploy_jobs: DeployJobsTable;
  audit_log: AuditLogTable;
  service_connections: ServiceConnectionsTable;
  oidc_signing_keys: OidcSigningKeysTable;
  ui_sessions: UiSessionsTable;
  log_chunks: LogChunksTable;
}

/** Browser sessions of the web UI; the cookie's value is stored hashed. */
export interface UiSessionsTable {
  token_hash: string;
  user_id: string;
  /** The personal access token exchanged for the session: revoking it ends the session. */
  token_id: string;
  created_at: number;
  expires_at: number;
}

export interface ServiceConnectionsTable {
  scope: string;
  scope_id: string;
  name: string;
  audience: string;
  service_account_id: string | null;
  folder_id: string | null;
  created_at: number;
  updated_at: number;
}

export interface OidcSigningKeysTable {
  generation: number;
  kid: string;
  alg: string;
  public_jwk: string;
  private_enc: string;
  created_at: number;
}

export interface EnvironmentsTable {
  id: string;
  project_id: string;
  key: string;
  version: number;
  body_json: string;
}

export interface ReleasesTable {
  id: string;
  project_id: string;
  status: string;
  version_number: number | null;
  created_at: number;
  row_version: number;
  body_json: string;
}

export interface DeployRunsTable {
  id: string;
  project_id: string;
  status: string;
  release_id: string;
  created_at: number;
  version: number;
  body_json: string;
}

export interface DeployJobsTable {
  id: string;
  run_id: string;
  environment_id: string;
  position: number;
  status: string;
  ci_run_id: string | null;
  version: number;
  body_json: string;
}

export interface AuditLogTable {
  id: string;
  project_id: string;
  at: number;
  body_json: string;
}
