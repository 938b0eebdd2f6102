import { Migrator, type Kysely, type Migration, type MigrationProvider } from 'kysely';

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

const provider: MigrationProvider = { getMigrations: () => Promise.resolve(MIGRATIONS) };

/** Brings the schema up to date; throws with the failing migration's error. */
export async function migrate(db: Kysely<unknown>): Promise<void> {
  const migrator = new Migrator({ db, provider });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new Error(
      `database migration ${failed} failed: ${error instanceof Error ? error.message : JSON.stringify(error)}`,
    );
  }
}
