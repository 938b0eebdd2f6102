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
  untagged?: boolean;
  parallelism?: string;
  embedded?: boolean;
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
  const token = flags.embedded ? await firstLine(process.stdin) : (flags.token ?? env.CONVEYOR_WORKER_TOKEN);
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
  const parallelism = Number(flags.parallelism ?? 4);
  if (!Number.isInteger(parallelism) || parallelism < 1)
    throw new UsageError(`--parallelism '${flags.parallelism ?? ''}' is not a positive whole number`);
  const log = flags.embedded
    ? (message: string) => process.stderr.write(`${message}\n`)
    : (message: string) => process.stderr.write(`${new Date().toISOString()} ${message}\n`);
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
    untagged: flags.untagged === true || flags.embedded === true,
    parallelism,
    log,
  });
  // Drains once; further signals change nothing (the server of an embedded worker sends one).
  process.on('SIGTERM', () => worker.drain());
  process.on('SIGINT', () => worker.drain());
  // The server holds the other end of stdin: when it ends (the server exited, even by kill -9),
  // so does this worker, and every process of its tasks with it.
  if (flags.embedded)
    process.stdin.once('end', () => {
      log('the server is gone: stopping every task');
      void worker.abandon('the server that ran this embedded worker stopped').finally(() => process.exit(0));
    });
  await worker.start().catch((error: unknown) => {
    // A work dir, user or containment the worker cannot set up: one line, not a stack trace.
    throw new UsageError(
      `the worker could not start: ${error instanceof Error ? error.message : String(error)}`,
    );
  });
  process.stdout.write(`worker ${worker.name} connected to ${servers.join(', ')}\n`);
  await worker.run();
  log('stopped');
  if (flags.embedded) process.stdin.destroy(); // the pipe to the server would keep the process alive
  return 0;
}

/** The first line of a stream (the embedded worker's token); the stream stays open after it. */
function firstLine(stream: NodeJS.ReadStream): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (chunk: Buffer) => {
      text += chunk.toString('utf8');
      const end = text.indexOf('\n');
      if (end < 0) return;
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.on('data', () => undefined);
      resolve(text.slice(0, end).trim());
    };
    const onEnd = () => reject(new UsageError('--embedded reads the worker token from stdin; none came'));
    stream.on('data', onData);
    stream.once('end', onEnd);
  });
}
