import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { relative, sep } from 'node:path';
import type { CubeProcess, CubeProcessSpec, Executor } from '../ports/executor.js';
import { CubeSandbox } from './cube-sandbox.js';
import { spawnInGroup } from './process-group.js';

export const CONTAINER_ROOT = '/sourcecraft';

export interface ContainerExecutorOptions {
  /** `podman` or `docker` (any CLI with `run`/`kill` of the same shape). */
  runtime: string;
  /** Extra `run` flags for this host, e.g. `--runtime runc` (CONVEYOR_CONTAINER_RUN_ARGS). */
  runArgs: string[];
  killGraceMs?: number;
  /** Gives the runtime's own environment (never the server's CONVEYOR_ settings). */
  sandbox?: CubeSandbox;
}

/**
 * Runs a cube in a container: the task directory is mounted at /sourcecraft and the workspace is
 * /sourcecraft/workspace, the working directory. Variables are passed by name (`-e NAME`) so their
 * values never appear on a command line (the runtime reads them from its own environment, which
 * holds nothing of the server's settings); paths under the task directory are given as container
 * paths. The container may not create device nodes (`--cap-drop MKNOD`) nor gain privileges.
 */
export class ContainerExecutor implements Executor {
  constructor(private readonly options: ContainerExecutorOptions) {}

  start(spec: CubeProcessSpec): CubeProcess {
    const image = spec.image;
    if (!image) throw new Error('ContainerExecutor needs a cube with an image');
    const name = `conveyor-${randomUUID()}`;
    const env: Record<string, string> = {};
    for (const [key, value] of Object.entries(spec.env)) env[key] = toContainerPath(value, spec.taskRoot);
    const args = [
      'run',
      '--rm',
      '--name',
      name,
      '--cap-drop',
      'MKNOD',
      '--security-opt',
      'no-new-privileges',
      ...this.options.runArgs,
      '-v',
      `${spec.taskRoot}:${CONTAINER_ROOT}`,
      '-w',
      `${CONTAINER_ROOT}/workspace`,
      ...Object.keys(env).flatMap((key) => ['-e', key]),
    ];
    const files: { path: string; content: string }[] = [];
    if (spec.script !== undefined) {
      const file = `${spec.dataDir}/${spec.key}.sh`;
      files.push({ path: file, content: `exec 2>&1\n${spec.script}\n` });
      args.push('--entrypoint', '/bin/sh', image.name, '-e', toContainerPath(file, spec.taskRoot));
    } else {
      if (image.entrypoint !== undefined)
        args.push('--entrypoint', image.entrypoint.length ? JSON.stringify(image.entrypoint) : '');
      args.push(image.name, ...(image.args ?? []));
    }
    const runtime = this.options.runtime;
    return spawnInGroup({
      command: runtime,
      args,
      cwd: spec.workspace,
      env: (this.options.sandbox ?? CubeSandbox.inherit()).toolEnv(env),
      timeoutMs: spec.timeoutMs,
      killGraceMs: this.options.killGraceMs ?? 5000,
      onOutput: spec.onOutput,
      files,
      onStop: () => {
        spawn(runtime, ['kill', name], { stdio: 'ignore' }).on('error', () => undefined);
      },
    });
  }
}

function toContainerPath(value: string, taskRoot: string): string {
  if (value === taskRoot) return CONTAINER_ROOT;
  if (!value.startsWith(taskRoot + sep)) return value;
  return `${CONTAINER_ROOT}/${relative(taskRoot, value).split(sep).join('/')}`;
}
