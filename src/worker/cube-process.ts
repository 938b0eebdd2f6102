import { existsSync } from 'node:fs';
import type { CubeSandbox } from '../executors/cube-sandbox.js';
import { afterPreparing, spawnInGroup } from '../executors/process-group.js';
import type { CubeProcess, CubeProcessSpec, Executor } from '../ports/executor.js';

const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));

/**
 * What the cube's bash runs first: it reads its whole environment and script from stdin (a pipe
 * the worker writes and closes), so nothing of the cube's reaches a process of the worker's user
 * (no LD_PRELOAD or BASH_ENV of a cube's config runs as root), the command line or the disk.
 */
const BOOT = [
  '__conveyor_env=$(cat)',
  'exec </dev/null 2>&1',
  'eval "$__conveyor_env"',
  'unset __conveyor_env',
  'eval "$__conveyor_script"',
].join('\n');

function quote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** The environment as `export` lines, then the script in a variable the bootstrap evaluates. */
function payload(env: Record<string, string>, script: string): string {
  const lines: string[] = [];
  for (const [name, value] of Object.entries(env))
    if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) lines.push(`export ${name}=${quote(value)}`);
  lines.push(`__conveyor_script=${quote(script)}`);
  return lines.join('\n');
}

/**
 * The native executor of one task on a worker. Each cube starts as the worker's user with only the
 * sandbox's base environment (PATH, HOME, USER, LANG, SHELL, TMPDIR of the host), goes through the
 * task's containment prefix (joins the task's cgroup, or enters its PID namespace: things an
 * unprivileged process could not do itself), then drops to the task's cube user under
 * `setpriv --no-new-privs` with no supplementary groups, and only then reads the cube's
 * environment and script from stdin.
 */
export class ContainedExecutor implements Executor {
  constructor(
    private readonly sandbox: CubeSandbox,
    private readonly prefix: string[],
    private readonly killGraceMs = 5000,
  ) {
    if (sandbox.user && !SETPRIV)
      throw new Error('setpriv (util-linux) is needed to run cubes as another user; install util-linux');
  }

  start(spec: CubeProcessSpec): CubeProcess {
    const drop = this.sandbox.user
      ? [
          SETPRIV as string,
          `--reuid=${this.sandbox.user.uid}`,
          `--regid=${this.sandbox.user.gid}`,
          '--clear-groups',
          '--no-new-privs',
          '--',
        ]
      : [];
    const [command = 'bash', ...args] = [
      ...this.prefix,
      ...drop,
      'bash',
      '--noprofile',
      '--norc',
      '-e',
      '-c',
      BOOT,
    ];
    return afterPreparing(this.sandbox.adopt(spec.taskRoot), () =>
      spawnInGroup({
        command,
        args,
        cwd: spec.workspace,
        env: this.sandbox.baseEnv(spec.taskRoot),
        input: payload(this.sandbox.env(spec.env, spec.taskRoot), spec.script ?? ''),
        timeoutMs: spec.timeoutMs,
        killGraceMs: this.killGraceMs,
        onOutput: spec.onOutput,
      }),
    );
  }
}
