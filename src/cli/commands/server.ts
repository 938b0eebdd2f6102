import { startServer } from '../../server/start-server.js';
import { UsageError } from '../output.js';

export interface ServerFlags {
  host?: string;
  port?: string;
  dataDir?: string;
  databaseUrl?: string;
  concurrency?: string;
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
  const log = (message: string) => process.stderr.write(`${new Date().toISOString()} ${message}\n`);
  const databaseUrl = flags.databaseUrl ?? env.CONVEYOR_DATABASE_URL;
  const server = await startServer({
    host: flags.host ?? env.CONVEYOR_HOST ?? '127.0.0.1',
    port,
    dataDir: flags.dataDir ?? env.CONVEYOR_DATA_DIR ?? './conveyor-data',
    ...(databaseUrl ? { databaseUrl } : {}),
    ...(env.CONVEYOR_PUBLIC_URL ? { publicUrl: env.CONVEYOR_PUBLIC_URL } : {}),
    ...(concurrency !== undefined ? { concurrency: Number(concurrency) } : {}),
    ...(env.CONVEYOR_TRIGGER_TICK_MS ? { triggerTickMs: Number(env.CONVEYOR_TRIGGER_TICK_MS) } : {}),
    ...(env.CONVEYOR_REPLICA_ID ? { replicaId: env.CONVEYOR_REPLICA_ID } : {}),
    env,
    log,
  });
  process.stdout.write(`Conveyor listening on ${server.url}\n`);
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      log(`${signal}: draining (no new work; running cubes finish, or are recorded as canceled after 30 s)`);
      void server.close(Number(env.CONVEYOR_DRAIN_MS ?? 30_000)).then(resolve);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  log('stopped');
  return 0;
}
