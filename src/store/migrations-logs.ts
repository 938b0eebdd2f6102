import { PostgresAdapter, sql, type Kysely, type Migration } from 'kysely';

/** Cube log chunks (numbers 0060-0069; docs/scaling.md "Logs"). Never edit a released one. */
export const LOG_MIGRATIONS: Record<string, Migration> = {
  '0060_log_chunks': {
    async up(db: Kysely<unknown>): Promise<void> {
      // Live chunks until their cube ends; the primary key on `start` is what makes an offset
      // append safe across replicas: two replicas storing the same chunk cannot both insert it.
      const bytes = db.getExecutor().adapter instanceof PostgresAdapter ? sql`bytea` : sql`blob`;
      await db.schema
        .createTable('log_chunks')
        .addColumn('run_id', 'text', (c) => c.notNull())
        .addColumn('cube_id', 'text', (c) => c.notNull())
        .addColumn('start', 'bigint', (c) => c.notNull())
        .addColumn('bytes', bytes, (c) => c.notNull())
        .addColumn('at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('log_chunks_pk', ['run_id', 'cube_id', 'start'])
        .execute();
    },
  },
};

/** A stored chunk: bytes [start, start + bytes.length) of a cube's log, received at `at` (epoch ms). */
export interface LogChunksTable {
  run_id: string;
  cube_id: string;
  start: number;
  bytes: Buffer;
  at: number;
}
