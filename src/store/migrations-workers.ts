import type { Kysely, Migration } from 'kysely';

/** Migrations of the worker protocol (numbers 0040-0049). Never edit a released one. */
export const WORKER_MIGRATIONS: Record<string, Migration> = {
  '0040_workers': {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('worker_tokens')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('note', 'text', (c) => c.notNull())
        .addColumn('token_hash', 'text', (c) => c.notNull().unique())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('revoked_at', 'bigint')
        .addColumn('last_used_at', 'bigint')
        .execute();
      await db.schema
        .createTable('workers')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('token_id', 'text', (c) => c.notNull())
        .addColumn('tags_json', 'text', (c) => c.notNull())
        .addColumn('slots', 'integer', (c) => c.notNull())
        .addColumn('running', 'integer', (c) => c.notNull())
        .addColumn('version', 'text', (c) => c.notNull())
        .addColumn('executor', 'text', (c) => c.notNull())
        .addColumn('containment', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('registered_at', 'bigint', (c) => c.notNull())
        .addColumn('last_seen_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('worker_tasks')
        .addColumn('task_id', 'text', (c) => c.primaryKey())
        .addColumn('run_id', 'text', (c) => c.notNull())
        .addColumn('repo_id', 'text', (c) => c.notNull())
        .addColumn('tags_json', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('attempt', 'integer', (c) => c.notNull())
        .addColumn('max_attempts', 'integer', (c) => c.notNull())
        .addColumn('epoch', 'integer', (c) => c.notNull())
        .addColumn('worker_name', 'text')
        .addColumn('lease_until', 'bigint')
        .addColumn('token_hash', 'text')
        .addColumn('cancel_reason', 'text')
        .addColumn('message', 'text')
        .addColumn('queued_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addColumn('payload_json', 'text', (c) => c.notNull())
        .addColumn('report_json', 'text')
        .execute();
      await db.schema
        .createIndex('worker_tasks_state')
        .on('worker_tasks')
        .columns(['state', 'queued_at'])
        .execute();
      await db.schema.createIndex('worker_tasks_token').on('worker_tasks').columns(['token_hash']).execute();
    },
  },
  '0041_worker_log_bases': {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable('worker_tasks').addColumn('log_bases_json', 'text').execute();
    },
  },
  '0042_worker_untagged': {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .alterTable('workers')
        .addColumn('untagged', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
    },
  },
  '0045_worker_task_outcome': {
    async up(db: Kysely<unknown>): Promise<void> {
      // How a task ended, for the replica executing its run: {} (its worker reported it) or
      // {message, canceled} (it ended without a worker). Replicas learn it from the row.
      await db.schema.alterTable('worker_tasks').addColumn('outcome_json', 'text').execute();
      await db.schema.createIndex('worker_tasks_run').on('worker_tasks').columns(['run_id']).execute();
    },
  },
};
