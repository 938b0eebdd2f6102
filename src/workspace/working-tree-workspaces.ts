import { cp, copyFile, lstat, mkdir, readlink, rm, symlink } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import type { CheckoutDef } from '../core/config/model.js';
import type { TaskDirs, WorkspaceProvider } from '../ports/workspace-provider.js';
import { git } from './git.js';

export interface WorkingTreeOptions {
  /** The directory whose working tree the tasks check out. */
  sourceDir: string;
  /** Whether sourceDir is (the top of) a git work tree. */
  isGit: boolean;
  /** Where task directories are created. */
  baseDir: string;
  /** Keep task directories after the run, for inspection. */
  keep: boolean;
  /** Paths (relative to sourceDir) never copied, e.g. the artifacts directory. */
  exclude: string[];
}

/**
 * Task workspaces for `conveyor run`: a checkout of the working tree as it is now, uncommitted
 * changes included. In a git repository that is a `--shared` clone of HEAD (cheap: objects are
 * borrowed, so `git log` and `git diff` work in cubes) with the tracked and untracked, not ignored,
 * files of the working tree copied over it.
 */
export class WorkingTreeWorkspaces implements WorkspaceProvider {
  private files: Promise<string[]> | undefined;

  constructor(private readonly options: WorkingTreeOptions) {}

  async prepare(_runId: string, taskKey: string, checkout: CheckoutDef): Promise<TaskDirs> {
    const root = join(this.options.baseDir, taskKey.replace(/[^A-Za-z0-9._-]/g, '_'));
    const dirs: TaskDirs = { root, workspace: join(root, 'workspace'), data: join(root, 'task-data') };
    await rm(root, { recursive: true, force: true });
    await mkdir(dirs.data, { recursive: true });
    if (!checkout.enabled) {
      await mkdir(dirs.workspace, { recursive: true });
      return dirs;
    }
    if (this.options.isGit) await this.checkoutGit(dirs.workspace);
    else await this.copyPlain(dirs.workspace);
    return dirs;
  }

  private async checkoutGit(workspace: string): Promise<void> {
    const { sourceDir } = this.options;
    // No template: the sample hooks would be a dozen files to create and delete per task.
    await git(
      ['clone', '--quiet', '--shared', '--no-checkout', '--template=', sourceDir, workspace],
      dirname(workspace),
    );
    this.files ??= this.listFiles();
    const files = await this.files;
    for (let i = 0; i < files.length; i += 64) {
      await Promise.all(
        files.slice(i, i + 64).map((file) => copyEntry(join(sourceDir, file), join(workspace, file))),
      );
    }
    // Fill the index from HEAD so `git status` in a cube shows the uncommitted changes.
    await git(['reset', '--quiet'], workspace).catch(() => undefined);
  }

  private async listFiles(): Promise<string[]> {
    const out = await git(
      ['ls-files', '-z', '--cached', '--others', '--exclude-standard'],
      this.options.sourceDir,
    );
    const excluded = this.options.exclude.map((p) => p.replace(/\/+$/, ''));
    return [...new Set(out.split('\0'))].filter(
      (file) => file !== '' && !excluded.some((ex) => file === ex || file.startsWith(ex + '/')),
    );
  }

  private async copyPlain(workspace: string): Promise<void> {
    const { sourceDir, exclude } = this.options;
    const excluded = exclude.map((p) => join(sourceDir, p));
    await cp(sourceDir, workspace, {
      recursive: true,
      verbatimSymlinks: true,
      filter: (src) => !excluded.some((ex) => src === ex || src.startsWith(ex + sep)),
    });
  }

  async release(dirs: TaskDirs): Promise<void> {
    if (this.options.keep) return;
    await rm(dirs.root, { recursive: true, force: true });
  }
}

async function copyEntry(from: string, to: string): Promise<void> {
  let stats;
  try {
    stats = await lstat(from);
  } catch {
    return; // Deleted in the working tree: the checkout reflects that.
  }
  if (stats.isDirectory()) return; // A submodule: not checked out.
  await mkdir(dirname(to), { recursive: true });
  if (stats.isSymbolicLink()) {
    await rm(to, { force: true });
    await symlink(await readlink(from), to);
    return;
  }
  await copyFile(from, to);
}

export function isInside(parent: string, child: string): boolean {
  const rel = relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !rel.startsWith(sep) && rel !== '..');
}
