import type { ImageDef } from '../core/config/model.js';

export interface CubeProcessSpec {
  /** The script (bash `-e` semantics); absent when a container cube runs its image's entrypoint. */
  script?: string;
  /** A directory inside `taskRoot` for helper files, and a name unique in it for this cube. */
  dataDir: string;
  key: string;
  /** Variables for the cube, beyond what the executor itself provides. */
  env: Record<string, string>;
  taskRoot: string;
  workspace: string;
  image?: ImageDef;
  timeoutMs: number;
  /** Output as it arrives, stdout and stderr merged in order. */
  onOutput: (chunk: Buffer) => void;
}

export type CubeExit =
  | { kind: 'exited'; code: number }
  | { kind: 'timeout' }
  | { kind: 'canceled' }
  | { kind: 'error'; message: string };

export interface CubeProcess {
  /** Settles once, never rejects. */
  readonly done: Promise<CubeExit>;
  /** Ends the whole process tree; `done` then resolves `canceled` (unless it already settled). */
  cancel(): void;
  /** Ends whatever the cube left running in the background; called when its task ends. */
  killLeftovers(): void;
}

/**
 * Runs one cube's script.
 *
 * Contract: `start` never throws; a failure to start resolves `done` with `error`. The script runs in
 * its own process group (or container); at `timeoutMs` the executor ends the whole tree and resolves
 * `timeout`. `onOutput` is called only before `done` settles.
 */
export interface Executor {
  start(spec: CubeProcessSpec): CubeProcess;
  /** Releases what the executor keeps between cubes; call once no cube is running. */
  close?(): void;
}
