import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const CONVEYOR = fileURLToPath(new URL('../../../bin/conveyor', import.meta.url));

/** Flags this sandbox needs on every `podman run` (see docs/configuration.md). */
export const CONTAINER_ENV = {
  CONVEYOR_CONTAINER_RUNTIME: 'podman',
  CONVEYOR_CONTAINER_RUN_ARGS:
    '--runtime runc --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 --network none --pull=never',
  CONVEYOR_CONTAINER_BUILD_ARGS:
    '--runtime runc --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 --pull=never',
};

export const TEST_IMAGE = 'localhost/conveyor-test-busybox:latest';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs bin/conveyor as a real process, as a user would. */
export function runCli(
  args: string[],
  options: { cwd?: string; env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(CONVEYOR, args, {
      cwd: options.cwd,
      env: { ...process.env, NO_COLOR: '1', ...CONTAINER_ENV, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(`conveyor ${args.join(' ')} did not finish in time\nstdout: ${stdout}\nstderr: ${stderr}`),
      );
    }, options.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Polls `check` until it returns a value, or fails after the deadline. No fixed sleeps. */
export async function waitFor<T>(
  check: () => T | undefined | Promise<T | undefined>,
  what: string,
  deadlineMs = 10_000,
): Promise<T> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
