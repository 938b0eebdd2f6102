import { randomBytes } from 'node:crypto';
import { after } from 'node:test';
import pg from 'pg';

/** The server the tests use; CONVEYOR_TEST_PG_URL overrides the machine's local one. */
export const PG_ADMIN_URL = process.env.CONVEYOR_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

const created: string[] = [];
// Registered when the test file loads, so it runs once after all of the file's tests.
after(dropAll);

/**
 * A fresh, empty PostgreSQL database for one suite, dropped when the test file ends. A missing
 * server fails the tests: PostgreSQL support is a feature, not an option.
 */
export async function tempPostgresUrl(): Promise<string> {
  const name = `conveyor_test_${randomBytes(6).toString('hex')}`;
  const client = new pg.Client({ connectionString: PG_ADMIN_URL });
  await client.connect();
  try {
    await client.query(`create database ${name}`);
  } finally {
    await client.end();
  }
  created.push(name);
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

async function dropAll(): Promise<void> {
  const client = new pg.Client({ connectionString: PG_ADMIN_URL });
  await client.connect();
  try {
    for (const name of created.splice(0)) await client.query(`drop database if exists ${name} with (force)`);
  } finally {
    await client.end();
  }
}
