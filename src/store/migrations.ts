import { Migrator, type Kysely, type Migration, type MigrationProvider } from 'kysely';
import { WORKER_MIGRATIONS } from './migrations-workers.js';
import { SECURITY_MIGRATIONS } from './migrations-security.js';
import { LOG_MIGRATIONS } from './migrations-logs.js';

/** Schema changes, in order. Never edit a released migration: add a new one. */
const MIGRATIONS: Record<string, Migration> = {
  '0001_runs': {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('repo_run_counters')
        .addColumn('repo_id', 'text', (c) => c.primaryKey())
        .addColumn('last_slug', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('runs')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('repo_id', 'text', (c) => c.notNull())
        .addColumn('slug', 'bigint', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('event_type', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('started_at', 'bigint')
        .addColumn('finished_at', 'bigint')
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addColumn('error_messages', 'text', (c) => c.notNull())
        .addColumn('user_json', 'text')
        .addColumn('context_json', 'text', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addUniqueConstraint('runs_repo_slug', ['repo_id', 'slug'])
        .execute();
      for (const table of ['run_workflows', 'run_tasks', 'run_cubes'] as const) {
        let builder = db.schema
          .createTable(table)
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('run_id', 'text', (c) => c.notNull().references('runs.id').onDelete('cascade'))
          .addColumn('position', 'integer', (c) => c.notNull())
          .addColumn('slug', 'text', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('started_at', 'bigint')
          .addColumn('finished_at', 'bigint')
          .addColumn('updated_at', 'bigint', (c) => c.notNull())
          .addColumn('spec_json', 'text', (c) => c.notNull())
          .addColumn('version', 'integer', (c) => c.notNull());
        if (table === 'run_tasks') {
          builder = builder
            .addColumn('workflow_id', 'text', (c) => c.notNull())
            .addColumn('needs_json', 'text', (c) => c.notNull())
            .addColumn('outputs_json', 'text', (c) => c.notNull());
        }
        if (table === 'run_cubes') {
          builder = builder
            .addColumn('task_id', 'text', (c) => c.notNull())
            .addColumn('needs_json', 'text', (c) => c.notNull())
            .addColumn('allow_failure', 'integer', (c) => c.notNull())
            .addColumn('outputs_json', 'text', (c) => c.notNull())
            .addColumn('exit_code', 'integer')
            .addColumn('error_message', 'text')
            .addColumn('artifacts_json', 'text', (c) => c.notNull());
        }
        await builder.execute();
        await db.schema.createIndex(`${table}_run`).on(table).columns(['run_id', 'position']).execute();
      }
    },
  },
};

MIGRATIONS['0002_server'] = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema.alterTable('runs').addColumn('claimed_by', 'text').execute();
    await db.schema.alterTable('runs').addColumn('lease_until', 'bigint').execute();
    await db.schema.createIndex('runs_status').on('runs').columns(['status', 'created_at']).execute();
    await db.schema
      .createTable('users')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('slug', 'text', (c) => c.notNull().unique())
      .addColumn('email', 'text', (c) => c.notNull())
      .addColumn('first_name', 'text', (c) => c.notNull())
      .addColumn('last_name', 'text', (c) => c.notNull())
      .addColumn('is_admin', 'integer', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('tokens')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('hash', 'text', (c) => c.notNull().unique())
      .addColumn('note', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('expires_at', 'bigint')
      .addColumn('revoked_at', 'bigint')
      .execute();
    await db.schema
      .createTable('orgs')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('slug', 'text', (c) => c.notNull().unique())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('org_roles')
      .addColumn('org_id', 'text', (c) => c.notNull().references('orgs.id').onDelete('cascade'))
      .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('role', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('org_roles_pk', ['org_id', 'user_id'])
      .execute();
    await db.schema
      .createTable('repos')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('org_id', 'text', (c) => c.notNull().references('orgs.id'))
      .addColumn('slug', 'text', (c) => c.notNull())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('description', 'text', (c) => c.notNull())
      .addColumn('visibility', 'text', (c) => c.notNull())
      .addColumn('clone_url', 'text', (c) => c.notNull())
      .addColumn('default_branch', 'text', (c) => c.notNull())
      .addColumn('poll_interval_ms', 'bigint', (c) => c.notNull())
      .addColumn('webhook_secret_enc', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addUniqueConstraint('repos_org_slug', ['org_id', 'slug'])
      .execute();
    await db.schema
      .createTable('repo_roles')
      .addColumn('repo_id', 'text', (c) => c.notNull().references('repos.id').onDelete('cascade'))
      .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('role', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('repo_roles_pk', ['repo_id', 'user_id'])
      .execute();
    await db.schema
      .createTable('secrets')
      .addColumn('scope', 'text', (c) => c.notNull())
      .addColumn('scope_id', 'text', (c) => c.notNull())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('value_enc', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('secrets_pk', ['scope', 'scope_id', 'name'])
      .execute();
    await db.schema
      .createTable('schedule_slots')
      .addColumn('repo_id', 'text', (c) => c.notNull())
      .addColumn('rule_key', 'text', (c) => c.notNull())
      .addColumn('slot', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('schedule_slots_pk', ['repo_id', 'rule_key', 'slot'])
      .execute();
    await db.schema
      .createTable('poll_state')
      .addColumn('repo_id', 'text', (c) => c.primaryKey())
      .addColumn('refs_json', 'text', (c) => c.notNull())
      .execute();
  },
};

/**
 * Deployments keep their documents as JSON bodies beside the columns that are queried, compared or
 * unique: the GoRules shapes are wide and change more often than what is filtered on.
 */
MIGRATIONS['0003_deployments'] = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('environments')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('project_id', 'text', (c) => c.notNull())
      .addColumn('key', 'text', (c) => c.notNull())
      .addColumn('version', 'integer', (c) => c.notNull())
      .addColumn('body_json', 'text', (c) => c.notNull())
      .addUniqueConstraint('environments_project_key', ['project_id', 'key'])
      .execute();
    await db.schema
      .createTable('releases')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('project_id', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('version_number', 'integer')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('row_version', 'integer', (c) => c.notNull())
      .addColumn('body_json', 'text', (c) => c.notNull())
      .addUniqueConstraint('releases_project_version', ['project_id', 'version_number'])
      .execute();
    await db.schema
      .createTable('deploy_runs')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('project_id', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('release_id', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('version', 'integer', (c) => c.notNull())
      .addColumn('body_json', 'text', (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex('deploy_runs_project')
      .on('deploy_runs')
      .columns(['project_id', 'created_at'])
      .execute();
    await db.schema.createIndex('deploy_runs_status').on('deploy_runs').columns(['status']).execute();
    await db.schema
      .createTable('deploy_jobs')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('run_id', 'text', (c) => c.notNull().references('deploy_runs.id').onDelete('cascade'))
      .addColumn('environment_id', 'text', (c) => c.notNull())
      .addColumn('position', 'integer', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('ci_run_id', 'text')
      .addColumn('version', 'integer', (c) => c.notNull())
      .addColumn('body_json', 'text', (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex('deploy_jobs_run')
      .on('deploy_jobs')
      .columns(['run_id', 'position'])
      .execute();
    await db.schema.createIndex('deploy_jobs_ci_run').on('deploy_jobs').columns(['ci_run_id']).execute();
    await db.schema
      .createTable('audit_log')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('project_id', 'text', (c) => c.notNull())
      .addColumn('at', 'bigint', (c) => c.notNull())
      .addColumn('body_json', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('audit_log_project').on('audit_log').columns(['project_id', 'at']).execute();
  },
};

MIGRATIONS['0004_cancel_requests'] = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema.alterTable('runs').addColumn('cancel_reason', 'text').execute();
  },
};

MIGRATIONS['0030_service_connections'] = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('service_connections')
      .addColumn('scope', 'text', (c) => c.notNull())
      .addColumn('scope_id', 'text', (c) => c.notNull())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('audience', 'text', (c) => c.notNull())
      .addColumn('service_account_id', 'text')
      .addColumn('folder_id', 'text')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('service_connections_pk', ['scope', 'scope_id', 'name'])
      .execute();
    // One row per key generation: replicas that rotate at once race on the primary key, one wins.
    await db.schema
      .createTable('oidc_signing_keys')
      .addColumn('generation', 'integer', (c) => c.primaryKey())
      .addColumn('kid', 'text', (c) => c.notNull().unique())
      .addColumn('alg', 'text', (c) => c.notNull())
      .addColumn('public_jwk', 'text', (c) => c.notNull())
      .addColumn('private_enc', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();
  },
};

MIGRATIONS['0050_ui_sessions'] = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('ui_sessions')
      .addColumn('token_hash', 'text', (c) => c.primaryKey())
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('token_id', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('ui_sessions_user').on('ui_sessions').columns(['user_id']).execute();
  },
};

Object.assign(MIGRATIONS, WORKER_MIGRATIONS, SECURITY_MIGRATIONS, LOG_MIGRATIONS);

const provider: MigrationProvider = { getMigrations: () => Promise.resolve(MIGRATIONS) };

/** Brings the schema up to date; throws with the failing migration's error. */
export async function migrate(db: Kysely<unknown>): Promise<void> {
  // Each helper's migrations have their own number range, so a database may have seen a later
  // range before an earlier one lands: apply whatever is missing, in order.
  const migrator = new Migrator({ db, provider, allowUnorderedMigrations: true });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new Error(
      `database migration ${failed} failed: ${error instanceof Error ? error.message : JSON.stringify(error)}`,
    );
  }
}
