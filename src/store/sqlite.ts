import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { Kysely, SqliteDialect, type SqliteDatabase } from 'kysely';
import { migrate } from './migrations.js';
import type { Database as Schema } from './schema.js';
import { SqlRunStore } from './sql-run-store.js';

/** Opens (creating if needed) an SQLite database file and brings its schema up to date. */
export async function openSqliteDb(file: string): Promise<Kysely<Schema>> {
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  const sqlite = new Database(file);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('foreign_keys = ON');
  const db = new Kysely<Schema>({ dialect: new SqliteDialect({ database: cachingStatements(sqlite) }) });
  await migrate(db as Kysely<unknown>);
  return db;
}

/**
 * Kysely prepares every query anew; the engine runs the same few updates for every cube, so
 * prepared statements are kept by SQL text (bounded, as `in (...)` lists vary in length).
 */
function cachingStatements(sqlite: Database.Database): SqliteDatabase {
  const cache = new Map<string, Database.Statement>();
  return {
    close: () => sqlite.close(),
    prepare: (sql: string) => {
      let statement = cache.get(sql);
      if (!statement) {
        if (cache.size >= 256) cache.clear();
        statement = sqlite.prepare(sql);
        cache.set(sql, statement);
      }
      return statement;
    },
  };
}

export async function openSqliteRunStore(file: string): Promise<SqlRunStore> {
  return new SqlRunStore(await openSqliteDb(file));
}
