import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CubeProcessSpec, Executor } from '../ports/executor.js';

export type ContainmentKind = 'cgroup' | 'process-group';

/** Keeps one task's processes together so they all end with it. */
export interface TaskContainment {
  /** The executor with every cube of the task inside the task's group. */
  wrap(executor: Executor): Executor;
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

/**
 * How the worker makes sure no process outlives its task (D9, D15): a cgroup v2 per task, ended
 * with `cgroup.kill` (which reaches processes that called setsid, nohup or double-forked), where
 * the host lets the worker create one; else the executors' process groups (a process that leaves
 * its group can survive). Task cgroups live under one parent named after the work dir, so a
 * restarted worker finds and ends what its previous life left running.
 */
export class Containment {
  private constructor(
    readonly kind: ContainmentKind,
    private readonly parent: string | undefined,
  ) {}

  static async detect(workDir: string, wanted: 'auto' | ContainmentKind = 'auto'): Promise<Containment> {
    const mount = wanted === 'process-group' ? undefined : cgroup2Mount();
    if (mount) {
      const id = createHash('sha256').update(workDir).digest('hex').slice(0, 12);
      const parent = join(mount, `conveyor-worker-${id}`);
      try {
        await mkdir(parent, { recursive: true });
        const probe = join(parent, 'probe');
        await mkdir(probe).catch(() => undefined);
        const usable = existsSync(join(probe, 'cgroup.kill')) && existsSync(join(probe, 'cgroup.procs'));
        await rmdir(probe).catch(() => undefined);
        if (usable) {
          await mkdir(join(workDir, 'state'), { recursive: true });
          await writeFile(join(workDir, 'state', 'cgroup-parent'), `${parent}\n`);
          return new Containment('cgroup', parent);
        }
      } catch {
        // not allowed here (not root, or no delegation): fall back
      }
    }
    return new Containment('process-group', undefined);
  }

  describe(): string {
    return this.kind === 'cgroup'
      ? `a cgroup v2 per task under ${this.parent ?? ''} (ended with cgroup.kill)`
      : 'process groups (no usable cgroup v2: a process that leaves its group may outlive its task)';
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

  /** Removes the parent group once no task group is left in it (a clean stop). */
  async close(): Promise<void> {
    if (this.parent) await rmdir(this.parent).catch(() => undefined);
  }

  async forTask(taskId: string): Promise<TaskContainment> {
    if (!this.parent) return { wrap: (executor) => executor, end: () => Promise.resolve() };
    const group = join(this.parent, `task-${taskId.replace(/[^A-Za-z0-9-]/g, '_')}`);
    await mkdir(group, { recursive: true });
    const procs = join(group, 'cgroup.procs');
    return {
      wrap: (executor) => ({
        // The cube's own shell joins the group before it runs a line of the script, so everything
        // it starts is born inside; moving out needs write access to a cgroup it does not own.
        start: (spec: CubeProcessSpec) =>
          executor.start(
            spec.script === undefined || spec.image
              ? spec
              : { ...spec, script: `echo $$ > '${procs}' || exit 125\n${spec.script}` },
          ),
        ...(executor.close ? { close: () => executor.close?.() } : {}),
      }),
      end: () => endGroup(group),
    };
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
