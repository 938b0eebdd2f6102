import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readlink } from 'node:fs/promises';
import { promisify } from 'node:util';
import type { TaskContainment } from './containment.js';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));

/** PID 1 of a task's namespace: says it is ready, then reaps orphans until it is killed. */
const INIT = "trap '' INT TERM HUP; echo ready; exec >/dev/null; while :; do sleep 3600 & wait; done";

/**
 * A PID namespace per task, for hosts without a usable cgroup v2. A holder process
 * (`setpriv --pdeathsig KILL unshare --pid --fork --kill-child --mount-proc`) is the worker's
 * child: when the worker dies, even of kill -9, the kernel sends the holder SIGKILL, the holder's
 * death kills the namespace's PID 1, and the kernel then kills every process in the namespace,
 * including those that called setsid or double-forked. Cubes enter the namespace with `nsenter`
 * (so they see only their task's processes in /proc). Without root the namespace is made inside a
 * user namespace (`--user --map-current-user`), where the host allows it.
 */
export class PidNamespaces {
  private constructor(private readonly userNs: boolean) {}

  static async detect(): Promise<PidNamespaces | undefined> {
    if (!SETPRIV) return undefined;
    const probe = ['--pid', '--fork', '--kill-child', '--mount-proc', '--', 'true'];
    for (const userNs of process.getuid?.() === 0 ? [false, true] : [true]) {
      const ok = await run('unshare', [...(userNs ? ['--user', '--map-current-user'] : []), ...probe]).then(
        () => true,
        () => false,
      );
      if (ok) return new PidNamespaces(userNs);
    }
    return undefined;
  }

  async forTask(): Promise<TaskContainment> {
    const holder = spawn(
      SETPRIV as string,
      [
        '--pdeathsig',
        'KILL',
        '--',
        'unshare',
        ...(this.userNs ? ['--user', '--map-current-user'] : []),
        '--pid',
        '--fork',
        '--kill-child',
        '--mount-proc',
        '--',
        'bash',
        '--noprofile',
        '--norc',
        '-c',
        INIT,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } },
    );
    const exited = new Promise<void>((resolve) => holder.once('exit', () => resolve()));
    await new Promise<void>((resolve, reject) => {
      holder.stdout.once('data', () => resolve());
      holder.once('error', reject);
      void exited.then(() => reject(new Error('could not make a PID namespace for the task')));
    });
    const pid = holder.pid as number;
    const ns = await readlink(`/proc/${pid}/ns/pid_for_children`);
    return {
      prefix: [
        'nsenter',
        ...(this.userNs ? ['--preserve-credentials', `--user=/proc/${pid}/ns/user`] : []),
        `--mount=/proc/${pid}/ns/mnt`,
        `--pid=/proc/${pid}/ns/pid_for_children`,
        '--',
      ],
      end: async () => {
        holder.kill('SIGKILL');
        await exited;
        for (let i = 0; i < 100 && (await anyIn(ns)); i++) await sleep(50);
      },
    };
  }
}

/** Whether a process of the PID namespace `ns` (`pid:[inode]`) is still alive. */
async function anyIn(ns: string): Promise<boolean> {
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    if ((await readlink(`/proc/${entry}/ns/pid`).catch(() => '')) === ns) return true;
  }
  return false;
}
