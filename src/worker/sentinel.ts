import { spawn, type ChildProcess } from 'node:child_process';
import type { Writable } from 'node:stream';

/**
 * The sentinel's script: it reads its stdin (a pipe whose other end only the worker holds) until
 * EOF, which comes when the worker exits for whatever reason, kill -9 included. Then it writes
 * `cgroup.kill` for every task group under the parent ($1), waits until each is empty (at most
 * ~5 s) and removes it. It ignores the signals a terminal or a service manager sends the worker.
 */
const SCRIPT = [
  "trap '' INT TERM HUP",
  'while read -r _; do :; done',
  'for g in "$1"/task-*/; do [ -d "$g" ] && echo 1 > "$g/cgroup.kill"; done 2>/dev/null',
  'for ((i = 0; i < 100; i++)); do',
  '  left=0',
  '  for g in "$1"/task-*/; do',
  '    [ -d "$g" ] || continue',
  '    if [ -n "$(cat "$g/cgroup.procs" 2>/dev/null)" ]; then left=1; else rmdir "$g" 2>/dev/null; fi',
  '  done',
  '  ((left)) || break',
  '  sleep 0.05',
  'done',
].join('\n');

/**
 * A tiny process of the worker's user (root) that outlives the worker just long enough to end its
 * tasks' cgroups: without it, a worker killed with -9 leaves its cubes running until it is started
 * again on the same work dir. It is not in any task group, and cubes (another user) cannot signal
 * it. If it dies while the worker lives, the worker starts another one.
 */
export class Sentinel {
  private child!: ChildProcess;
  private closing = false;

  private constructor(
    private readonly parent: string,
    private readonly log: (message: string) => void,
  ) {}

  static async start(parent: string, log: (message: string) => void): Promise<Sentinel> {
    const sentinel = new Sentinel(parent, log);
    await sentinel.spawn();
    return sentinel;
  }

  private spawn(): Promise<void> {
    const child = spawn('bash', ['--noprofile', '--norc', '-c', SCRIPT, 'conveyor-sentinel', this.parent], {
      stdio: ['pipe', 'ignore', 'inherit'],
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
      // Its own session: a Ctrl-C or a signal to the worker's process group does not reach it.
      detached: true,
    });
    this.child = child;
    child.unref();
    const stdin = child.stdin as Writable & { unref?: () => void };
    stdin.on('error', () => undefined);
    stdin.unref?.();
    child.on('exit', () => {
      if (this.closing || this.child !== child) return;
      this.log('the containment sentinel ended unexpectedly; starting another one');
      void this.spawn().catch(() => undefined);
    });
    return new Promise((resolve, reject) => {
      child.once('spawn', () => resolve());
      child.once('error', reject);
    });
  }

  /** A clean stop: the sentinel ends the (by now empty) task groups and exits. */
  async close(): Promise<void> {
    this.closing = true;
    const child = this.child;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.ref(); // unreferenced while it watches: the wait for its exit must keep the worker alive
    child.stdin?.end();
    await exited;
  }
}
