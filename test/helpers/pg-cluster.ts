import { execFile } from 'node:child_process';
import { chownSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './doc-script.js';
import { tempDir } from './repo.js';

const run = promisify(execFile);

/** A PostgreSQL server of one test's own, which the test may restart or stop. */
export interface PgCluster {
  /** postgres://postgres@127.0.0.1:<port>/postgres */
  url: string;
  /** `pg_ctl restart -m fast`, as `pg_ctlcluster restart` does: connections are ended. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

function binDir(): string {
  if (process.env.CONVEYOR_TEST_PG_BIN) return process.env.CONVEYOR_TEST_PG_BIN;
  const root = '/usr/lib/postgresql';
  const version = existsSync(root)
    ? readdirSync(root)
        .sort((a, b) => Number(a) - Number(b))
        .at(-1)
    : undefined;
  if (!version) throw new Error('no PostgreSQL binaries under /usr/lib/postgresql; set CONVEYOR_TEST_PG_BIN');
  return join(root, version, 'bin');
}

/**
 * Starts a private PostgreSQL (initdb in a temp dir, its own port): a test that restarts its
 * database must not restart the machine's, which every other suite running at the same time uses.
 * As root, the server runs as the `postgres` user (PostgreSQL refuses to run as root).
 */
export async function startPgCluster(): Promise<PgCluster> {
  const bin = binDir();
  const dir = tempDir('conveyor-pg-');
  const data = join(dir, 'data');
  const root = process.getuid?.() === 0;
  if (root) {
    const { stdout } = await run('id', ['-u', 'postgres']);
    const { stdout: gid } = await run('id', ['-g', 'postgres']);
    chownSync(dir, Number(stdout.trim()), Number(gid.trim()));
  }
  const as = (cmd: string, args: string[]) =>
    root ? run('runuser', ['-u', 'postgres', '--', join(bin, cmd), ...args]) : run(join(bin, cmd), args);
  await as('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync']);
  const port = await freePort();
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`;
  const ctl = (action: string, ...extra: string[]) =>
    as('pg_ctl', ['-D', data, '-l', join(dir, 'log'), '-w', '-o', options, ...extra, action]);
  await ctl('start');
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    restart: async () => {
      await ctl('restart', '-m', 'fast');
    },
    stop: async () => {
      await ctl('stop', '-m', 'immediate').catch(() => undefined);
    },
  };
}
