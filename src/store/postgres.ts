import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { migrate } from './migrations.js';
import type { Database } from './schema.js';

/**
 * Connects to PostgreSQL and brings the schema up to date. Replicas may start together: Kysely's
 * migrator locks its own table, so one of them migrates and the others wait.
 */
export async function openPostgresDb(url: string, poolSize = 10): Promise<Kysely<Database>> {
  const pool = new pg.Pool({ connectionString: url, max: poolSize });
  pool.on('error', () => undefined); // an idle client lost its connection; the pool replaces it
  // A client checked out between two queries when PostgreSQL shuts down gets the server's
  // "terminating connection" as an event, not as a query error: without a listener it would crash
  // the process. Its next query fails (503) and the pool replaces it.
  pool.on('connect', (client) => client.on('error', () => undefined));
  const client = await pool.connect().catch((error: unknown) => {
    void pool.end();
    throw new Error(
      `cannot connect to PostgreSQL at ${redactUrl(url)}: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  });
  client.release();
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  await migrate(db as Kysely<unknown>);
  return db;
}

/** The URL without its password, for messages. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparsable URL)';
  }
}
