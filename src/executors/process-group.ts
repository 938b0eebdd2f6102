import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { chownSync, writeFileSync } from 'node:fs';
import { constants } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import type { CubeExit, CubeProcess } from '../ports/executor.js';

export interface GroupSpawn {
  command: string;
  args: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  timeoutMs: number;
  killGraceMs: number;
  onOutput: (chunk: Buffer) => void;
  /** Extra work to stop the cube (e.g. `podman kill`), run with the group kill. */
  onStop?: () => void;
  /** Files to write (mode 0700) before spawning, e.g. a script too large for the environment. */
  files?: { path: string; content: string }[];
  /** Owner of those files (the cube user), when the cube runs as another user. */
  fileOwner?: { uid: number; gid: number };
  /** Bytes for the process's stdin, which is then closed (no stdin when absent). */
  input?: string;
  /** Run as this user (switched in the child before exec). */
  uid?: number;
  gid?: number;
}

/** Every process group a cube started that may still be alive, so a dying runner can end them. */
const liveGroups = new Set<number>();

/** Remembers a process group started elsewhere (the launcher), for `killAllGroups`. */
export function trackGroup(pgid: number): void {
  liveGroups.add(pgid);
}

export function untrackGroup(pgid: number): void {
  liveGroups.delete(pgid);
}

/** Sends SIGKILL to every cube process group still known; for `process.on('exit')`. */
export function killAllGroups(): void {
  for (const pgid of liveGroups) signalGroup(pgid, 'SIGKILL');
  liveGroups.clear();
}

/**
 * Spawns a command as the leader of a new process group (a new session), and ends the whole group
 * on timeout or cancel: SIGTERM, then SIGKILL after the grace period.
 */
export function spawnInGroup(opts: GroupSpawn): CubeProcess {
  let settle!: (exit: CubeExit) => void;
  const done = new Promise<CubeExit>((resolve) => (settle = resolve));
  let settled = false;
  let stopping: 'timeout' | 'canceled' | undefined;
  let exitTimer: NodeJS.Timeout | undefined;
  let exitStatus: number | undefined;

  try {
    for (const file of opts.files ?? []) {
      writeFileSync(file.path, file.content, { mode: 0o700 });
      if (opts.fileOwner) chownSync(file.path, opts.fileOwner.uid, opts.fileOwner.gid);
    }
  } catch (error) {
    return settledProcess({
      kind: 'error',
      message: `could not write the cube's script: ${(error as Error).message}`,
    });
  }
  const child = spawn(opts.command, opts.args, {
    cwd: opts.cwd,
    env: opts.env,
    ...(opts.uid !== undefined && opts.gid !== undefined ? { uid: opts.uid, gid: opts.gid } : {}),
    detached: true,
    stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  }) as ChildProcessByStdio<Writable | null, Readable, Readable>;
  if (opts.input !== undefined && child.stdin) {
    child.stdin.on('error', () => undefined); // the process may exit without reading it
    child.stdin.end(opts.input);
  }
  const pgid = child.pid;
  if (pgid !== undefined) liveGroups.add(pgid);

  const finish = (exit: CubeExit): void => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    clearTimeout(exitTimer);
    settle(exit);
  };
  const stop = (reason: 'timeout' | 'canceled'): void => {
    if (settled || stopping) return;
    stopping = reason;
    opts.onStop?.();
    if (pgid === undefined) return;
    signalGroup(pgid, 'SIGTERM');
    setTimeout(() => signalGroup(pgid, 'SIGKILL'), opts.killGraceMs).unref();
  };
  const complete = (): void => {
    if (stopping) finish({ kind: stopping });
    else finish({ kind: 'exited', code: exitStatus ?? 1 });
  };

  const onData = (chunk: Buffer): void => {
    if (!settled) opts.onOutput(chunk);
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  child.on('error', (error) =>
    finish({ kind: 'error', message: `could not start ${opts.command}: ${error.message}` }),
  );
  child.on('exit', (code, signal) => {
    exitStatus = code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0);
    // Output is complete when the pipes close; a background process that keeps them open
    // must not hold the cube, so stop waiting shortly after the main process exits.
    exitTimer = setTimeout(complete, 200);
  });
  child.on('close', complete);
  const timer = setTimeout(() => stop('timeout'), opts.timeoutMs);

  return {
    done,
    cancel: () => stop('canceled'),
    killLeftovers: () => {
      if (pgid === undefined) return;
      signalGroup(pgid, 'SIGKILL');
      liveGroups.delete(pgid);
      child.stdout.destroy();
      child.stderr.destroy();
    },
  };
}

/**
 * A cube process that starts once `preparing` settles (the sandbox handing the task directory to
 * the cube user). A cancel before then settles it without starting; a failure is the cube's error.
 */
export function afterPreparing(preparing: Promise<void>, start: () => CubeProcess): CubeProcess {
  let started: CubeProcess | undefined;
  let canceled = false;
  const done = preparing.then(
    () => {
      if (canceled) return { kind: 'canceled' } as const;
      started = start();
      return started.done;
    },
    (error: unknown) => ({
      kind: 'error' as const,
      message: `could not prepare the cube's workspace: ${error instanceof Error ? error.message : String(error)}`,
    }),
  );
  return {
    done,
    cancel: () => {
      canceled = true;
      started?.cancel();
    },
    killLeftovers: () => started?.killLeftovers(),
  };
}

function settledProcess(exit: CubeExit): CubeProcess {
  return { done: Promise.resolve(exit), cancel: () => undefined, killLeftovers: () => undefined };
}

export function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH: the group is already gone.
  }
}
