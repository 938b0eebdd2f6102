import { execFile } from 'node:child_process';
import { chmod, mkdir, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import type { CheckoutDef } from '../core/config/model.js';
import type { TaskDirs, WorkspaceProvider } from '../ports/workspace-provider.js';
import { git } from '../workspace/git.js';

const run = promisify(execFile);

/**
 * Task directories on a worker: `<work-dir>/tasks/<task>/`, with a checkout of the task's commit
 * made from a bare cache per repository (`<work-dir>/cache/<repo>.git`) that fetches from the
 * server's mirror over git smart HTTP, authorized by the task token. A commit already in the cache
 * costs no fetch; otherwise only the missing objects travel.
 *
 * When cubes run as other users (the worker is root), the work dir and `tasks/` are 0711 (cubes
 * pass through to their own task directory, which is 0700 and theirs, but cannot list them), while
 * `state/`, `spool/` and `cache/` are 0700; a checkout then copies the objects it needs instead of
 * borrowing them from the cache (`--no-hardlinks`), since the cube could not read them there.
 */
export class WorkerWorkspaces {
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(
    private readonly workDir: string,
    private readonly sharedClones = true,
  ) {}

  /** Makes the work dir's layout and modes (see the class comment). */
  async prepareLayout(): Promise<void> {
    await mkdir(this.workDir, { recursive: true });
    if (!this.sharedClones) await mustBeReachable(this.workDir);
    await chmod(this.workDir, 0o711);
    const modes: [string, number][] = [
      ['tasks', 0o711],
      ['state', 0o700],
      ['spool', 0o700],
      ['cache', 0o700],
    ];
    for (const [dir, mode] of modes) {
      await mkdir(join(this.workDir, dir), { recursive: true });
      await chmod(join(this.workDir, dir), mode);
    }
  }

  cacheOf(repoId: string): string {
    return join(this.workDir, 'cache', `${repoId.replace(/[^A-Za-z0-9-]/g, '_')}.git`);
  }

  /** Makes sure the cache has `sha`, fetching it from `url` with the task token if not. */
  ensureCommit(repoId: string, url: string, token: string, sha: string): Promise<void> {
    const cache = this.cacheOf(repoId);
    const job = (this.locks.get(repoId) ?? Promise.resolve())
      .catch(() => undefined)
      .then(async () => {
        if (!(await stat(join(cache, 'HEAD')).catch(() => undefined))) {
          await mkdir(cache, { recursive: true });
          await git(['init', '--quiet', '--bare', '--template=', cache], cache);
        }
        const has = await run('git', ['cat-file', '-e', `${sha}^{commit}`], { cwd: cache }).then(
          () => true,
          () => false,
        );
        if (has) return;
        // A fetch is a few requests: a reset or a lost answer fails it, so it is tried again
        // (100 ms doubling to 2 s, for up to a minute); a stalled transfer gives up after 20 s.
        const started = Date.now();
        for (let backoff = 100; ; backoff = Math.min(2000, backoff * 2)) {
          try {
            await run('git', ['fetch', '--quiet', '--no-tags', '--', url, sha], {
              cwd: cache,
              env: {
                ...process.env,
                GIT_TERMINAL_PROMPT: '0',
                GIT_HTTP_LOW_SPEED_LIMIT: '1',
                GIT_HTTP_LOW_SPEED_TIME: '20',
                GIT_CONFIG_COUNT: '1',
                GIT_CONFIG_KEY_0: 'http.extraHeader',
                GIT_CONFIG_VALUE_0: `Authorization: Bearer ${token}`,
              },
            });
            return;
          } catch (error) {
            const stderr = (error as { stderr?: string }).stderr?.trim().replaceAll(token, '***') ?? '';
            // The server's own refusals (a lease gone, a commit it lacks) are not worth a retry.
            if (
              /\b(401|403|404|409)\b|not our ref|unadvertised/i.test(stderr) ||
              Date.now() - started > 60_000
            )
              throw new Error(`fetching commit ${sha} from the server failed: ${stderr || String(error)}`, {
                cause: error,
              });
            await new Promise((resolve) => setTimeout(resolve, backoff));
          }
        }
      });
    this.locks.set(repoId, job);
    return job;
  }

  /** The workspace provider of one task: a shared clone of the cache at `sha`. */
  forTask(repoId: string, sha: string | undefined, taskId: string): WorkspaceProvider {
    const cache = this.cacheOf(repoId);
    const root = join(this.workDir, 'tasks', taskId.replace(/[^A-Za-z0-9._-]/g, '_'));
    const how = this.sharedClones ? '--shared' : '--no-hardlinks';
    return {
      async prepare(_runId: string, _key: string, checkout: CheckoutDef): Promise<TaskDirs> {
        const dirs: TaskDirs = { root, workspace: join(root, 'workspace'), data: join(root, 'task-data') };
        await rm(root, { recursive: true, force: true });
        await mkdir(root, { recursive: true, mode: 0o700 });
        await chmod(root, 0o700);
        await mkdir(dirs.data, { recursive: true });
        if (!checkout.enabled || !sha) await mkdir(dirs.workspace, { recursive: true });
        else {
          await git(['clone', '--quiet', how, '--no-checkout', '--template=', cache, dirs.workspace], root);
          await git(['checkout', '--quiet', '--detach', sha], dirs.workspace);
        }
        return dirs;
      },
      async release(dirs: TaskDirs): Promise<void> {
        await rm(dirs.root, { recursive: true, force: true });
      },
    };
  }
}

/** Cubes of other users reach their task directory only if every parent of the work dir is searchable. */
async function mustBeReachable(workDir: string): Promise<void> {
  for (let at = dirname(workDir); ; at = dirname(at)) {
    if (((await stat(at)).mode & 0o001) === 0)
      throw new Error(
        `cubes run as other users and cannot reach ${workDir}: ${at} is not searchable by others (chmod o+x ${at}, or choose a --work-dir such as /var/lib/conveyor-worker)`,
      );
    if (dirname(at) === at) return;
  }
}
