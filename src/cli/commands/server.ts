import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createOperatorLog, LOG_LEVELS, type LogFormat, type LogLevel } from '../../server/operator-log.js';
import { startServer } from '../../server/start-server.js';
import { UsageError } from '../output.js';

export interface ServerFlags {
  host?: string;
  port?: string;
  dataDir?: string;
  databaseUrl?: string;
  blobStore?: string;
  concurrency?: string;
  embeddedWorkers?: string;
  logLevel?: string;
  logFormat?: string;
}

/**
 * `mkdir -p` one level at a time: Node's recursive mkdir never returns for a path under /proc
 * (ENOENT on a parent that exists), which left `conveyor server --data-dir /proc/x` hanging.
 */
function makeDirs(path: string): void {
  if (existsSync(path)) return;
  const parent = dirname(path);
  if (parent !== path) makeDirs(parent);
  mkdirSync(path);
}

/** The data dir exists and takes files, or a usage error says why (a file in the way, no permission, /proc). */
function checkDataDir(dir: string): void {
  const path = resolve(dir);
  try {
    makeDirs(path);
    const probe = join(path, `.write-test-${process.pid}`);
    writeFileSync(probe, '');
    rmSync(probe);
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    throw new UsageError(
      `cannot use data dir ${path}: ${e.code === 'EEXIST' || e.code === 'ENOTDIR' ? 'a file is in the way' : (e.code ?? e.message)}`,
      'pass --data-dir with a directory this user can write (it is created when missing)',
    );
  }
}

function pick<T extends string>(
  value: string | undefined,
  allowed: readonly T[],
  flag: string,
): T | undefined {
  if (value === undefined || value === '') return undefined;
  if (!(allowed as readonly string[]).includes(value))
    throw new UsageError(`${flag} '${value}' is not one of ${allowed.join(', ')}`);
  return value as T;
}

/** `conveyor server`: runs the API, the embedded worker and the triggers until SIGTERM or SIGINT. */
export async function serverCommand(flags: ServerFlags): Promise<number> {
  const env = process.env;
  const port = Number(flags.port ?? env.CONVEYOR_PORT ?? 8080);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new UsageError(`port '${flags.port ?? env.CONVEYOR_PORT ?? ''}' is not a port number`);
  const concurrency = flags.concurrency ?? env.CONVEYOR_CONCURRENCY;
  if (concurrency !== undefined && !(Number(concurrency) >= 1))
    throw new UsageError(`--concurrency '${concurrency}' is not a positive number`);
  const embedded = flags.embeddedWorkers ?? env.CONVEYOR_EMBEDDED_WORKERS;
  if (
    embedded !== undefined &&
    embedded !== '' &&
    !(Number.isInteger(Number(embedded)) && Number(embedded) >= 0)
  )
    throw new UsageError(`--embedded-workers '${embedded}' is not a whole number (0 for none)`);
  const level = pick<LogLevel>(flags.logLevel ?? env.CONVEYOR_LOG_LEVEL, LOG_LEVELS, '--log-level');
  const format = pick<LogFormat>(
    flags.logFormat ?? env.CONVEYOR_LOG_FORMAT,
    ['text', 'json'],
    '--log-format',
  );
  const ops = createOperatorLog({ ...(level ? { level } : {}), ...(format ? { format } : {}) });
  const log = (message: string) => ops.note(message);
  const dataDir = flags.dataDir ?? env.CONVEYOR_DATA_DIR ?? './conveyor-data';
  const databaseUrl = flags.databaseUrl ?? env.CONVEYOR_DATABASE_URL;
  const blobStore = flags.blobStore ?? env.CONVEYOR_BLOB_STORE;
  if (!databaseUrl || databaseUrl.startsWith('sqlite:')) checkDataDir(dataDir);
  const host = flags.host ?? env.CONVEYOR_HOST ?? '127.0.0.1';
  let server;
  try {
    server = await startServer({
      host,
      port,
      dataDir,
      ...(databaseUrl ? { databaseUrl } : {}),
      ...(blobStore ? { blobStore } : {}),
      ...(env.CONVEYOR_PUBLIC_URL ? { publicUrl: env.CONVEYOR_PUBLIC_URL } : {}),
      ...(concurrency !== undefined ? { concurrency: Number(concurrency) } : {}),
      ...(embedded !== undefined && embedded !== '' ? { embeddedWorkers: Number(embedded) } : {}),
      ...(env.CONVEYOR_TRIGGER_TICK_MS ? { triggerTickMs: Number(env.CONVEYOR_TRIGGER_TICK_MS) } : {}),
      ...(env.CONVEYOR_REPLICA_ID ? { replicaId: env.CONVEYOR_REPLICA_ID } : {}),
      env,
      log,
      ops,
    });
  } catch (error) {
    throw startupError(error as NodeJS.ErrnoException, host, port);
  }
  process.stdout.write(`Conveyor listening on ${server.url}\n`);
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      log(
        `${signal}: draining (no new work; running cubes finish, or are recorded as canceled after ${Number(env.CONVEYOR_DRAIN_MS ?? 30_000) / 1000} s)`,
      );
      void server.close(Number(env.CONVEYOR_DRAIN_MS ?? 30_000)).then(resolve);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  log('stopped');
  return 0;
}

/** Start-up failures as one line and a hint (exit 2), not a stack trace. */
function startupError(error: NodeJS.ErrnoException, host: string, port: number): UsageError {
  switch (error.code ?? '') {
    case 'EADDRINUSE':
      return new UsageError(
        `port ${port} on ${host} is in use`,
        'pass --port 0 for a free one, or stop what holds it',
      );
    case 'EACCES':
      return new UsageError(
        `no permission to listen on ${host}:${port}`,
        'ports below 1024 need root: pick --port 8080',
      );
    case 'EADDRNOTAVAIL':
      return new UsageError(
        `${host} is not an address of this machine`,
        'try --host 127.0.0.1 or --host 0.0.0.0',
      );
    default:
      return new UsageError(
        `the server could not start: ${error.message}`,
        'check --database-url / --data-dir; `conveyor server --help` lists the settings',
      );
  }
}
