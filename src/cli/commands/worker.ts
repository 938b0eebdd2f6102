import { cubeBaseEnvironment } from '../../worker/cube-env.js';
import { Worker } from '../../worker/worker.js';
import { UsageError } from '../output.js';

export interface WorkerFlags {
  server?: string;
  token?: string;
  name?: string;
  tags?: string;
  slots?: string;
  workDir?: string;
  executor?: string;
}

const TAG = /^[A-Za-z0-9._-]{1,64}$/;

/** `conveyor worker`: runs tasks of a server on this host until SIGTERM (which drains). */
export async function workerCommand(flags: WorkerFlags): Promise<number> {
  // Overwrites the command line in /proc/<pid>/cmdline (readable by every user): no --token in it.
  process.title = `conveyor worker${flags.name ? ` --name ${flags.name}` : ''}`;
  const env = process.env;
  const servers = (flags.server ?? env.CONVEYOR_SERVER ?? '')
    .split(',')
    .map((s) => s.trim().replace(/\/+$/, ''))
    .filter(Boolean);
  if (servers.length === 0 || servers.some((s) => !/^https?:\/\//.test(s)))
    throw new UsageError(
      'give the server as --server http(s)://HOST:PORT[,URL...]',
      'conveyor worker --server http://ci.example.com:8080 --token TOKEN',
    );
  const token = flags.token ?? env.CONVEYOR_WORKER_TOKEN;
  if (!token)
    throw new UsageError(
      'give a worker token: --token TOKEN (or CONVEYOR_WORKER_TOKEN)',
      'an administrator creates one with `conveyor workers tokens create`',
    );
  const tags = (flags.tags ?? '')
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
  const bad = tags.find((t) => !TAG.test(t));
  if (bad !== undefined)
    throw new UsageError(`tag '${bad}' has characters other than a-z, A-Z, 0-9, -, . and _`);
  const slots = Number(flags.slots ?? 1);
  if (!Number.isInteger(slots) || slots < 1)
    throw new UsageError(`--slots '${flags.slots ?? ''}' is not a positive whole number`);
  const executor = flags.executor ?? 'native';
  if (executor !== 'native' && executor !== 'container')
    throw new UsageError(`--executor must be native or container, not '${executor}'`);
  if (flags.name !== undefined && !TAG.test(flags.name))
    throw new UsageError(`--name '${flags.name}' may only have a-z, A-Z, 0-9, -, . and _`);
  const log = (message: string) => process.stderr.write(`${new Date().toISOString()} ${message}\n`);
  // The token stays in this process: cubes get an environment built from scratch.
  const cubeEnv = cubeBaseEnvironment(env);
  for (const name of Object.keys(env)) if (!(name in cubeEnv)) delete env[name];
  const worker = new Worker({
    servers,
    token,
    ...(flags.name ? { name: flags.name } : {}),
    tags: [...new Set(['self-hosted', ...tags])],
    slots,
    workDir: flags.workDir ?? './conveyor-worker',
    executor,
    drainMs: Number(cubeEnv.CONVEYOR_DRAIN_MS ?? 30_000),
    env: cubeEnv,
    log,
  });
  process.once('SIGTERM', () => worker.drain());
  process.once('SIGINT', () => worker.drain());
  await worker.start();
  process.stdout.write(`worker ${worker.name} connected to ${servers.join(', ')}\n`);
  await worker.run();
  log('stopped');
  return 0;
}
