import type { CubeProcess, CubeProcessSpec, Executor } from '../ports/executor.js';
import { BashLauncher } from './bash-launcher.js';
import { CubeSandbox } from './cube-sandbox.js';
import { afterPreparing, spawnInGroup } from './process-group.js';

/** Scripts up to this size travel in the environment; larger ones are written to a file. */
const INLINE_LIMIT = 96 * 1024;

/**
 * Bootstrap given to `bash -c`: stderr joins stdout so both arrive in one ordered stream, the
 * script is taken out of the environment (children do not inherit it), then run with `set -e`.
 */
export const BOOTSTRAP =
  'exec 2>&1; __conveyor_script=$__CONVEYOR_SCRIPT; unset __CONVEYOR_SCRIPT; eval "$__conveyor_script"';

/**
 * Runs a cube's script with bash on this machine, in the task workspace, with the environment and
 * user its sandbox gives (cube-sandbox.ts: from scratch on the server, the developer's own for
 * `conveyor run`) plus the cube's variables. The script reaches bash through the environment rather
 * than a file: creating a file costs more than the rest of starting a short cube, and the
 * substituted secrets never touch the disk.
 */
export class LocalProcessExecutor implements Executor {
  private readonly launcher: BashLauncher | undefined;

  /**
   * `launcher: true` starts cubes through a long-lived bash (see bash-launcher.ts) instead of
   * forking the runner for each one; it falls back to a direct spawn when its slots are busy.
   */
  private readonly sandbox: CubeSandbox;

  constructor(
    private readonly options: { killGraceMs?: number; launcher?: boolean; sandbox?: CubeSandbox } = {},
  ) {
    this.sandbox = options.sandbox ?? CubeSandbox.inherit();
    if (options.launcher) this.launcher = new BashLauncher(BOOTSTRAP, 16, this.sandbox);
  }

  start(spec: CubeProcessSpec): CubeProcess {
    if (!this.sandbox.user) return this.startNow(spec);
    return afterPreparing(this.sandbox.adopt(spec.taskRoot), () => this.startNow(spec));
  }

  private startNow(spec: CubeProcessSpec): CubeProcess {
    const script = spec.script ?? '';
    if (Buffer.byteLength(script) > INLINE_LIMIT) return this.startFromFile(spec, script);
    const killGraceMs = this.options.killGraceMs ?? 5000;
    if (this.launcher?.available) {
      return this.launcher.launch({
        env: { ...this.sandbox.env(spec.env, spec.taskRoot), __CONVEYOR_SCRIPT: script },
        cwd: spec.workspace,
        timeoutMs: spec.timeoutMs,
        killGraceMs,
        onOutput: spec.onOutput,
      });
    }
    return spawnInGroup({
      ...this.sandbox.wrap('bash', ['--noprofile', '--norc', '-e', '-c', BOOTSTRAP]),
      ...this.sandbox.ids(),
      cwd: spec.workspace,
      env: { ...this.sandbox.env(spec.env, spec.taskRoot), __CONVEYOR_SCRIPT: script },
      timeoutMs: spec.timeoutMs,
      killGraceMs: this.options.killGraceMs ?? 5000,
      onOutput: spec.onOutput,
    });
  }

  /** Lets the runner exit: the launcher ends once its queue is empty. */
  close(): void {
    this.launcher?.close();
  }

  private startFromFile(spec: CubeProcessSpec, script: string): CubeProcess {
    const file = `${spec.dataDir}/${spec.key}.sh`;
    return spawnInGroup({
      ...this.sandbox.wrap('bash', ['--noprofile', '--norc', '-e', '-c', 'exec 2>&1; . "$0"', file]),
      cwd: spec.workspace,
      env: this.sandbox.env(spec.env, spec.taskRoot),
      timeoutMs: spec.timeoutMs,
      killGraceMs: this.options.killGraceMs ?? 5000,
      onOutput: spec.onOutput,
      files: [{ path: file, content: script }],
      ...(this.sandbox.user ? { fileOwner: this.sandbox.user } : {}),
      ...this.sandbox.ids(),
    });
  }
}
