import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { ImageBuilder } from '../ports/action-source.js';
import type { Executor } from '../ports/executor.js';
import { ContainerImageBuilder } from './image-builder.js';
import { ContainerExecutor } from './container-executor.js';
import { CubeSandbox } from './cube-sandbox.js';
import { LocalProcessExecutor } from './local-process-executor.js';

/** Splits a flags string on white space; double or single quotes group. */
export function splitArgs(text: string): string[] {
  const out: string[] = [];
  for (const match of text.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g))
    out.push(match[1] ?? match[2] ?? match[3] ?? '');
  return out;
}

/**
 * The executors of this machine: native cubes through the bash launcher (unless CONVEYOR_LAUNCHER=0),
 * container cubes through CONVEYOR_CONTAINER_RUNTIME, else podman or docker found on PATH.
 */
export function localExecutors(
  env: NodeJS.ProcessEnv,
  runtime?: string,
  sandbox: CubeSandbox = CubeSandbox.inherit(env),
): { native: Executor; container?: Executor; images?: ImageBuilder } {
  const chosen = containerRuntime(env, runtime);
  const runArgs = splitArgs(env.CONVEYOR_CONTAINER_RUN_ARGS ?? '');
  const buildArgs = splitArgs(env.CONVEYOR_CONTAINER_BUILD_ARGS ?? '');
  return {
    native: new LocalProcessExecutor({ launcher: env.CONVEYOR_LAUNCHER !== '0', sandbox }),
    ...(chosen
      ? {
          container: new ContainerExecutor({ runtime: chosen, runArgs, sandbox }),
          images: new ContainerImageBuilder({ runtime: chosen, buildArgs }),
        }
      : {}),
  };
}

/** CONVEYOR_CONTAINER_RUNTIME, else podman or docker found on PATH. */
export function containerRuntime(env: NodeJS.ProcessEnv, runtime?: string): string | undefined {
  return runtime ?? env.CONVEYOR_CONTAINER_RUNTIME ?? findOnPath(['podman', 'docker'], env.PATH ?? '');
}

function findOnPath(commands: string[], path: string): string | undefined {
  const dirs = path.split(delimiter).filter(Boolean);
  for (const command of commands) {
    for (const dir of dirs) {
      try {
        accessSync(join(dir, command), constants.X_OK);
        return command;
      } catch {
        // not here
      }
    }
  }
  return undefined;
}
