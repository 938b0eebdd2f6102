import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PidNamespaces } from './pid-namespace.js';
import { Sentinel } from './sentinel.js';

export type ContainmentKind = 'cgroup' | 'pid-namespace' | 'process-group';
export const CONTAINMENT_KINDS: readonly ContainmentKind[] = ['cgroup', 'pid-namespace', 'process-group'];

/** Keeps one task's processes together so they all end with it. */
export interface TaskContainment {
  /**
   * Words to put before each cube's command: they run as the worker's user, outside the cube, and
   * put the process in the task's group (cgroup or PID namespace) before the cube's code starts.
   */
  readonly prefix: string[];
  /** Ends every process still in the group; resolves once none is left (at most ~5 s). */
  end(): Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The cgroup v2 mount, wherever the host put it (/sys/fs/cgroup, or /sys/fs/cgroup/unified on hybrid hosts). */
function cgroup2Mount(): string | undefined {
  try {
    for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
      const [left, right] = line.split(' - ');
      if (right?.startsWith('cgroup2 ')) return left?.split(' ')[4];
    }
  } catch {
    // not Linux
  }
  return undefined;
}

/** The script that moves its own process into the cgroup named by $0, then runs the cube's command. */
const JOIN_CGROUP =
  'echo $$ > "$0" || { echo "conveyor: could not join the task\'s cgroup $0" >&2; exit 125; }; exec "$@"';

/**
 * How the worker makes sure no process outlives its task (D9, D15), in this order:
 *
 * - cgroup: a cgroup v2 per task, ended with `cgroup.kill` (which reaches processes that called
 *   setsid, nohup or double-forked), where the host lets the worker create one. A root sentinel
 *   (sentinel.ts) holds a pipe from the worker and kills the task groups when the worker dies.
 * - pid-namespace: a PID namespace per task (pid-namespace.ts), whose holder dies with the worker
 *   (parent-death signal), taking every process in the namespace with it.
 * - process-group: the executors' process groups; a process that leaves its group can survive.
 *
 * Task cgroups live under one parent named after the work dir, so a restarted worker finds and
 * ends what its previous life left running (a second line behind the sentinel).
 */
export class Containment {
  private constructor(
    readonly kind: ContainmentKind,
    private readonly parent: string | undefined,
    private readonly sentinel: Sentinel | undefined,
    private readonly namespaces: PidNamespaces | undefined,
  ) {}

  /** `wanted` (CONVEYOR_WORKER_CONTAINMENT) caps the order: a kind is tried only from it on. */
  static async detect(
    workDir: string,
    wanted: 'auto' | ContainmentKind = 'auto',
    log: (message: string) => void = () => undefined,
  ): Promise<Containment> {
    const from = wanted === 'auto' ? 0 : CONTAINMENT_KINDS.indexOf(wanted);
    const parent = from <= 0 ? await usableCgroupParent(workDir) : undefined;
    if (parent) {
      await mkdir(join(workDir, 'state'), { recursive: true, mode: 0o700 });
      await writeFile(join(workDir, 'state', 'cgroup-parent'), `${parent}\n`);
      return new Containment('cgroup', parent, await Sentinel.start(parent, log), undefined);
    }
    const namespaces = from <= 1 ? await PidNamespaces.detect() : undefined;
    if (namespaces) return new Containment('pid-namespace', undefined, undefined, namespaces);
    return new Containment('process-group', undefined, undefined, undefined);
  }

  describe(): string {
    switch (this.kind) {
      case 'cgroup':
        return `a cgroup v2 per task under ${this.parent ?? ''} (ended with cgroup.kill, also by a sentinel when the worker dies)`;
      case 'pid-namespace':
        return 'a PID namespace per task (no usable cgroup v2; the namespace dies with the worker)';
      case 'process-group':
        return 'process groups (no usable cgroup v2 or PID namespace: a process that leaves its group may outlive its task)';
    }
  }

  /** Ends the task groups a previous run of this worker left; returns how many there were. */
  async endLeftovers(): Promise<number> {
    if (!this.parent) return 0;
    const names = (await readdir(this.parent, { withFileTypes: true }))
      .filter((d) => d.isDirectory() && d.name.startsWith('task-'))
      .map((d) => d.name);
    for (const name of names) await endGroup(join(this.parent, name));
    return names.length;
  }

  /** Stops the sentinel and removes the parent group once no task group is left in it (a clean stop). */
  async close(): Promise<void> {
    await this.sentinel?.close();
    if (this.parent) await rmdir(this.parent).catch(() => undefined);
  }

  async forTask(taskId: string): Promise<TaskContainment> {
    if (this.namespaces) return this.namespaces.forTask();
    if (!this.parent) return { prefix: [], end: () => Promise.resolve() };
    const group = join(this.parent, `task-${taskId.replace(/[^A-Za-z0-9-]/g, '_')}`);
    await mkdir(group, { recursive: true });
    return {
      // The worker (root) moves the process in before it drops to the cube user: an unprivileged
      // cube could not join a root-owned group itself, and it cannot move out of it either.
      prefix: ['/bin/sh', '-c', JOIN_CGROUP, join(group, 'cgroup.procs')],
      end: () => endGroup(group),
    };
  }
}

/** The parent of this worker's task groups when the host lets it create cgroup v2 groups there. */
async function usableCgroupParent(workDir: string): Promise<string | undefined> {
  const mount = cgroup2Mount();
  if (!mount) return undefined;
  const id = createHash('sha256').update(workDir).digest('hex').slice(0, 12);
  const parent = join(mount, `conveyor-worker-${id}`);
  try {
    await mkdir(parent, { recursive: true });
    const probe = join(parent, 'probe');
    await mkdir(probe).catch(() => undefined);
    const usable = existsSync(join(probe, 'cgroup.kill')) && existsSync(join(probe, 'cgroup.procs'));
    await rmdir(probe).catch(() => undefined);
    return usable ? parent : undefined;
  } catch {
    return undefined; // not allowed here (not root, or no delegation): fall back
  }
}

async function endGroup(group: string): Promise<void> {
  await writeFile(join(group, 'cgroup.kill'), '1').catch(() => undefined);
  for (let i = 0; i < 100; i++) {
    const left = await readFile(join(group, 'cgroup.procs'), 'utf8').catch(() => '');
    if (left.trim() === '') break;
    await sleep(50);
  }
  await rmdir(group).catch(() => undefined);
}
