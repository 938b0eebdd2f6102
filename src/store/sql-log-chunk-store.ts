import { sql, type Kysely } from 'kysely';
import { LogChunkTakenError, type LogChunk, type LogChunkStore } from '../ports/log-chunk-store.js';
import type { Database } from './schema.js';
import { isUniqueViolation } from './sql-errors.js';

/** Rows per INSERT statement (PostgreSQL allows 65535 parameters; five per row). */
const ROWS_PER_INSERT = 500;

/** LogChunkStore over the `log_chunks` table; the same queries serve SQLite and PostgreSQL. */
export class SqlLogChunkStore implements LogChunkStore {
  constructor(private readonly db: Kysely<Database>) {}

  private of(runId: string, cubeId: string) {
    return this.db.selectFrom('log_chunks').where('run_id', '=', runId).where('cube_id', '=', cubeId);
  }

  async end(runId: string, cubeId: string): Promise<number> {
    const last = await this.of(runId, cubeId)
      .select(['start', sql<number>`length(bytes)`.as('length')])
      .orderBy('start', 'desc')
      .limit(1)
      .executeTakeFirst();
    return last ? Number(last.start) + Number(last.length) : 0;
  }

  async insert(runId: string, cubeId: string, chunks: LogChunk[]): Promise<void> {
    if (chunks.length === 0) return;
    const rows = chunks.map((c) => ({
      run_id: runId,
      cube_id: cubeId,
      start: c.start,
      bytes: c.bytes,
      at: c.at,
    }));
    try {
      // One statement is atomic by itself: a transaction would cost two more round trips.
      if (rows.length <= ROWS_PER_INSERT) await this.db.insertInto('log_chunks').values(rows).execute();
      else
        await this.db.transaction().execute(async (tx) => {
          for (let i = 0; i < rows.length; i += ROWS_PER_INSERT)
            await tx
              .insertInto('log_chunks')
              .values(rows.slice(i, i + ROWS_PER_INSERT))
              .execute();
        });
    } catch (error) {
      if (isUniqueViolation(error))
        throw new LogChunkTakenError(`a chunk of ${cubeId}'s log is stored there`);
      throw error;
    }
  }

  /** The start of the chunk holding byte `offset` (the last one starting at or before it). */
  private floor(runId: string, cubeId: string, offset: number) {
    return this.of(runId, cubeId)
      .where('start', '<=', offset)
      .select((eb) => eb.fn.coalesce(eb.fn.max('start'), eb.lit(0)).as('s'));
  }

  async read(runId: string, cubeId: string, from: number, to: number): Promise<LogChunk[]> {
    if (to <= from) return [];
    const rows = await this.of(runId, cubeId)
      .where('start', '<', to)
      .where('start', '>=', this.floor(runId, cubeId, from))
      .select(['start', 'bytes', 'at'])
      .orderBy('start')
      .execute();
    return rows.map((r) => ({ start: Number(r.start), bytes: Buffer.from(r.bytes), at: Number(r.at) }));
  }

  async marks(runId: string, cubeId: string, from: number, to: number): Promise<[number, number][]> {
    if (to <= from) return [];
    const rows = await this.of(runId, cubeId)
      .where('start', '<', to)
      .where('start', '>=', this.floor(runId, cubeId, from))
      .select(['start', 'at'])
      .orderBy('start')
      .execute();
    return rows.map((r) => [Number(r.start), Number(r.at)]);
  }

  async deleteBefore(runId: string, cubeId: string, before: number): Promise<void> {
    await this.db
      .deleteFrom('log_chunks')
      .where('run_id', '=', runId)
      .where('cube_id', '=', cubeId)
      .where('start', '<', before)
      .execute();
  }

  async cubesOf(runId: string): Promise<string[]> {
    const rows = await this.db
      .selectFrom('log_chunks')
      .where('run_id', '=', runId)
      .select('cube_id')
      .distinct()
      .execute();
    return rows.map((r) => r.cube_id);
  }

  async ended(limit: number): Promise<{ runId: string; cubeId: string }[]> {
    const rows = await this.db
      .selectFrom('log_chunks as l')
      .leftJoin('run_cubes as c', 'c.id', 'l.cube_id')
      .where((eb) =>
        eb.or([eb('c.id', 'is', null), eb('c.status', 'in', ['success', 'failed', 'canceled', 'timeout'])]),
      )
      .select(['l.run_id', 'l.cube_id'])
      .distinct()
      .limit(limit)
      .execute();
    return rows.map((r) => ({ runId: r.run_id, cubeId: r.cube_id }));
  }
}
