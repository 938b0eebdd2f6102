import { spawn, type ChildProcess } from 'node:child_process';
import { CONTAINER_ENV, CONVEYOR, waitFor } from './cli.js';
import { tempDir } from './repo.js';
import type { TestServer } from './server.js';

export interface TestWorker {
  name: string;
  child: ChildProcess;
  workDir: string;
  /** Everything the worker printed so far (stdout and stderr). */
  output(): string;
  /** SIGTERM, then waits for the exit (SIGKILL after `graceMs`). */
  stop(graceMs?: number): Promise<number | null>;
  exited: Promise<number | null>;
}

/** A new worker token, made through the API as an administrator would. */
export async function workerToken(t: TestServer): Promise<string> {
  const got = await t.api<{ token: string }>('POST', '/workers/tokens', { note: 'test' });
  if (got.status !== 201) throw new Error(`worker token: ${JSON.stringify(got.body)}`);
  return got.body.token;
}

/** Starts `conveyor worker` as a real process and waits until it is connected. */
export async function startWorker(
  server: string,
  token: string,
  options: {
    name: string;
    tags?: string[];
    slots?: number;
    workDir?: string;
    env?: Record<string, string>;
    /** Run the worker under this command prefix (e.g. `ip netns exec NS`). */
    prefix?: string[];
    /** More flags (e.g. `--untagged`). */
    args?: string[];
  },
): Promise<TestWorker> {
  const workDir = options.workDir ?? tempDir('conveyor-worker-');
  const args = [
    'worker',
    '--server',
    server,
    '--token',
    token,
    '--name',
    options.name,
    '--tags',
    (options.tags ?? []).join(','),
    '--slots',
    String(options.slots ?? 1),
    '--work-dir',
    workDir,
    ...(options.args ?? []),
  ];
  const [command, ...rest] = options.prefix ? [...options.prefix, CONVEYOR, ...args] : [CONVEYOR, ...args];
  const child = spawn(command ?? CONVEYOR, rest, {
    env: { ...process.env, ...CONTAINER_ENV, NO_COLOR: '1', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let gone = false;
  void exited.then(() => (gone = true));
  await waitFor(
    () => {
      if (gone) throw new Error(`worker ${options.name} exited:\n${output}`);
      return output.includes(`worker ${options.name} connected`) || undefined;
    },
    `worker ${options.name} to connect`,
    20_000,
  );
  return {
    name: options.name,
    child,
    workDir,
    output: () => output,
    exited,
    stop: async (graceMs = 10_000) => {
      if (!gone) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}
