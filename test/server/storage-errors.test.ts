import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { PG_ADMIN_URL } from '../helpers/postgres.js';
import { tempDir, tempRepo } from '../helpers/repo.js';
import { runToEnd } from '../helpers/runs.js';
import { registerRepo, startTestServer, type TestServer } from '../helpers/server.js';

const ROOT = process.getuid?.() === 0;

const CONFIG = `workflows:
  flood:
    tasks:
      - name: t
        cubes:
          - name: c
            script:
              # random: the database compresses what it stores, and a run of one letter takes no room
              - for i in $(seq 1 400); do head -c 3072 /dev/urandom | base64 -w0; echo " line $i"; done
  quiet:
    tasks: [{name: t, cubes: [{name: c, script: ["echo one line"]}]}]
`;

/** Runs SQL as the administrator, on `database` (default: the admin database). */
async function admin(sql: string, database?: string): Promise<void> {
  const url = new URL(PG_ADMIN_URL);
  if (database) url.pathname = `/${database}`;
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/**
 * The probe's D2: a log write error (storage full, or not writable) used to throw out of the
 * output callback and end the whole server. Now it fails the cube with a message, and the server
 * keeps answering. Live logs are rows in the database (docs/scaling.md "Logs"), so the storage
 * that fails is the database's: the log table moved to a tablespace on a small tmpfs, then the
 * server's role losing its right to insert into it.
 */
describe('storage errors fail the cube, never the server', { skip: !ROOT && 'needs root (mount)' }, () => {
  let t: TestServer;
  const suffix = randomBytes(4).toString('hex');
  const role = `conveyor_logs_${suffix}`;
  const database = `conveyor_logs_${suffix}`;
  const space = `conveyor_logs_${suffix}`;
  const mountPoint = join(tempDir(), 'tablespace');

  before(async () => {
    await admin(`create role ${role} login`);
    await admin(`create database ${database} owner ${role}`);
    const url = new URL(PG_ADMIN_URL);
    url.username = role;
    url.pathname = `/${database}`;
    t = await startTestServer({ databaseUrl: url.toString() });
    // The server migrated as its role; from now on it may use the log table, not own it.
    await admin(
      `alter table log_chunks owner to postgres; grant select, insert, delete on log_chunks to ${role}`,
      database,
    );
    await registerRepo(t, tempRepo({ '.conveyor/ci.yaml': CONFIG }));
  });
  after(async () => {
    await t.close();
    await admin(`drop database if exists ${database} with (force)`);
    await admin(`drop tablespace if exists ${space}`);
    await admin(`drop role if exists ${role}`);
    try {
      execFileSync('umount', ['-l', mountPoint], { stdio: 'ignore' });
    } catch {
      // not mounted any more: the tests unmount what they mount
    }
  });

  it('a log storage that fills up fails the cube with a message', async () => {
    mkdirSync(mountPoint, { recursive: true });
    const owner = execFileSync('id', ['-u', 'postgres']).toString().trim();
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=256k,uid=${owner},mode=0700`, 'tmpfs', mountPoint]);
    await admin(`create tablespace ${space} location '${mountPoint}'`);
    await admin(`alter table log_chunks set tablespace ${space}`, database);
    const run = await runToEnd(t, 'acme/app', 'flood');
    const cube = run.workflows[0]?.tasks[0]?.cubes[0];
    assert.equal(run.status, 'failed', JSON.stringify(run));
    assert.match(cube?.error_message ?? '', /the log could not be written \(.*No space left on device/);
    assert.equal((await t.api('GET', '/healthz', undefined, null)).status, 200);
    await admin(`alter table log_chunks set tablespace pg_default`, database);
    await admin(`drop tablespace ${space}`);
    execFileSync('umount', [mountPoint]);
  });

  it('a log table that cannot be written fails the cube, and later runs still run', async () => {
    await admin(`revoke insert on log_chunks from ${role}`, database);
    const run = await runToEnd(t, 'acme/app', 'quiet');
    assert.equal(run.status, 'failed', JSON.stringify(run));
    assert.match(
      run.workflows[0]?.tasks[0]?.cubes[0]?.error_message ?? '',
      /the log could not be written \(permission denied for table log_chunks/,
    );
    await admin(`grant insert on log_chunks to ${role}`, database);
    const again = await runToEnd(t, 'acme/app', 'quiet');
    assert.equal(again.status, 'success', JSON.stringify(again));
  });
});
