import { cp, mkdir, rm, rmdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { CheckoutDef } from '../core/config/model.js';
import type { CommitInfo } from '../core/run/model.js';
import { FileTooLarge, type RepoMirrors, type Revision } from '../ports/repo-mirrors.js';
import { CONFIG_MAX_BYTES } from '../core/config/parse-config.js';
import type { TaskDirs, WorkspaceProvider } from '../ports/workspace-provider.js';
import { catFileBatch, parseCommit, type GitObject } from './cat-file.js';
import { git } from './git.js';
import { readBranchRef } from './ref-files.js';

/**
 * Bare mirrors under `<dir>/<repoId>.git`, fetched with `+refs/heads/*` and `+refs/tags/*`.
 * Task workspaces are `--shared` clones of the mirror checked out at the run's commit: cheap, and
 * `git log` works inside cubes.
 */
export class GitMirrors implements RepoMirrors {
  private readonly syncing = new Map<string, Promise<void>>();
  private readonly syncedAt = new Map<string, number>();
  /** Commits known to be in each mirror (resolved here), so `ensureCommit` is free for them. */
  private readonly known = new Set<string>();
  /** File contents by `repo@sha:path` (null: absent at that commit; a number: its size, too large). */
  private readonly files = new Map<string, string | null | number>();
  /** Commit headers by `repo@sha` (they never change), so resolving an unmoved branch starts no git. */
  private readonly commits = new Map<string, Omit<CommitInfo, 'sha' | 'ref'>>();

  /**
   * `sharedClones: false` copies the objects into each workspace instead of borrowing them from
   * the mirror: cubes running as another user cannot read the mirrors (cube-sandbox.ts).
   */
  constructor(
    private readonly dir: string,
    private readonly workDir: string,
    private readonly sharedClones = true,
  ) {}

  /** The bare mirror of a repository (served to workers over git smart HTTP). */
  path(repoId: string): string {
    return join(this.dir, `${repoId.replace(/[^A-Za-z0-9-]/g, '_')}.git`);
  }

  sync(repoId: string, cloneUrl: string, maxAgeMs = 0): Promise<void> {
    const running = this.syncing.get(repoId);
    if (running) return running;
    if (maxAgeMs > 0 && Date.now() - (this.syncedAt.get(repoId) ?? 0) < maxAgeMs) return Promise.resolve();
    const started = Date.now();
    const job = this.fetch(repoId, cloneUrl)
      .then(() => void this.syncedAt.set(repoId, started))
      .finally(() => this.syncing.delete(repoId));
    this.syncing.set(repoId, job);
    return job;
  }

  private async fetch(repoId: string, cloneUrl: string): Promise<void> {
    const path = this.path(repoId);
    if (!(await stat(join(path, 'HEAD')).catch(() => undefined))) {
      await mkdir(path, { recursive: true });
      await git(['init', '--quiet', '--bare', '--template=', path], path);
    }
    await git(
      [
        'fetch',
        '--quiet',
        '--prune',
        '--force',
        '--no-tags',
        '--',
        cloneUrl,
        '+refs/heads/*:refs/heads/*',
        '+refs/tags/*:refs/tags/*',
      ],
      path,
    );
  }

  async remoteDefaultBranch(repoId: string, cloneUrl: string): Promise<string | undefined> {
    // Clone URLs never start with '-' (the routes refuse them), so the URL cannot be read as an option.
    const out = await git(['ls-remote', '--symref', cloneUrl, 'HEAD'], this.path(repoId)).catch(() => '');
    const named = /^ref: refs\/heads\/(\S+)\s+HEAD$/m.exec(out)?.[1];
    if (named) return named;
    const branches = Object.keys(await this.listRefs(repoId))
      .filter((r) => r.startsWith('refs/heads/'))
      .map((r) => r.slice('refs/heads/'.length));
    if (branches.length === 1) return branches[0];
    return ['main', 'master'].find((b) => branches.includes(b));
  }

  /**
   * The commit a revision names, in one `git cat-file` that also reads `prefetch` files at that
   * commit into a cache (contents at a commit never change), so reading the config costs nothing.
   */
  async resolve(repoId: string, revision: Revision, prefetch: readonly string[] = []): Promise<CommitInfo> {
    const known = await this.resolveKnownBranch(repoId, revision, prefetch);
    if (known) return known;
    const ref = revision.commit
      ? ''
      : revision.tag !== undefined
        ? `refs/tags/${revision.tag}`
        : `refs/heads/${revision.branch ?? ''}`;
    const name = `${revision.commit ?? ref}^{commit}`;
    // Prefetched files are configs: one over the config limit is skipped as it streams by.
    const [commit, ...files] = await catFileBatch(
      this.path(repoId),
      [name, ...prefetch.map((p) => `${name}:${p}`)],
      CONFIG_MAX_BYTES,
    );
    if (!commit) throw new Error(`revision ${describe(revision)} does not exist in the repository`);
    this.known.add(`${repoId}@${commit.oid}`);
    prefetch.forEach((path, i) => this.remember(repoId, commit.oid, path, files[i]));
    const info = parseCommit(commit.data);
    if (this.commits.size >= 1000) this.commits.clear();
    this.commits.set(`${repoId}@${commit.oid}`, info);
    return { sha: commit.oid, ref, ...info };
  }

  /**
   * A branch whose head (read from the ref files) was resolved before, with the prefetched files
   * cached: answered without a git process. The trigger loop asks this of every repository on
   * every tick (schedules), so an unmoved branch must cost nothing.
   */
  private async resolveKnownBranch(
    repoId: string,
    revision: Revision,
    prefetch: readonly string[],
  ): Promise<CommitInfo | undefined> {
    if (revision.commit || revision.tag !== undefined || !revision.branch) return undefined;
    const sha = await readBranchRef(this.path(repoId), revision.branch);
    const info = sha && this.commits.get(`${repoId}@${sha}`);
    if (!sha || !info || !prefetch.every((p) => this.files.has(`${repoId}@${sha}:${p}`))) return undefined;
    return { sha, ref: `refs/heads/${revision.branch}`, ...info };
  }

  private remember(repoId: string, sha: string, path: string, object: GitObject | undefined): void {
    if (this.files.size >= 1000) this.files.clear();
    const value = !object ? null : object.tooLarge ? object.size : object.data.toString('utf8');
    this.files.set(`${repoId}@${sha}:${path}`, value);
  }

  /**
   * Makes sure the mirror has a commit, fetching once if not: a run created by another replica may
   * name a commit this replica's mirror has not fetched yet (or a mirror it does not have at all).
   */
  async ensureCommit(repoId: string, cloneUrl: string, sha: string): Promise<void> {
    if (this.known.has(`${repoId}@${sha}`)) return;
    const has = async () =>
      (await catFileBatch(this.path(repoId), [`${sha}^{commit}`]).catch(() => [undefined]))[0];
    if (!(await stat(join(this.path(repoId), 'HEAD')).catch(() => undefined)) || !(await has())) {
      await this.sync(repoId, cloneUrl);
      if (!(await has())) throw new Error(`commit ${sha} is not in ${cloneUrl} any more`);
    }
    if (this.known.size > 10_000) this.known.clear();
    this.known.add(`${repoId}@${sha}`);
  }

  async readFile(
    repoId: string,
    sha: string,
    path: string,
    maxBytes = CONFIG_MAX_BYTES,
  ): Promise<string | undefined> {
    let value = this.files.get(`${repoId}@${sha}:${path}`);
    if (value === undefined) {
      const [object] = await catFileBatch(this.path(repoId), [`${sha}:${path}`], maxBytes).catch(() => [
        undefined,
      ]);
      if (/^[0-9a-f]{40}$/.test(sha)) this.remember(repoId, sha, path, object);
      value = !object ? null : object.tooLarge ? object.size : object.data.toString('utf8');
    }
    if (typeof value === 'number') {
      if (value > maxBytes) throw new FileTooLarge(path, value, maxBytes);
      // Known too large for the config limit, asked with a larger one: read it now.
      const [object] = await catFileBatch(this.path(repoId), [`${sha}:${path}`], maxBytes);
      return object?.data.toString('utf8');
    }
    return value ?? undefined;
  }

  async changedPaths(repoId: string, from: string, to: string): Promise<string[] | undefined> {
    if (/^0+$/.test(from)) return undefined;
    // Webhook fields (D8): only object ids, and never read as options.
    if (!isObjectId(from) || !isObjectId(to)) return undefined;
    try {
      const out = await git(
        ['diff', '--name-only', '-z', '--end-of-options', from, to, '--'],
        this.path(repoId),
      );
      return out.split('\0').filter(Boolean);
    } catch {
      return undefined;
    }
  }

  async listRefs(repoId: string): Promise<Record<string, string>> {
    const out = await git(
      ['for-each-ref', '--format=%(refname) %(objectname) %(*objectname)', 'refs/heads', 'refs/tags'],
      this.path(repoId),
    );
    const refs: Record<string, string> = {};
    for (const line of out.split('\n').filter(Boolean)) {
      const [name = '', object = '', peeled = ''] = line.split(' ');
      refs[name] = peeled || object;
    }
    return refs;
  }

  workspaces(
    repoId: string,
    sha: string,
    runId: string,
    attach?: { from: string; as: string },
  ): WorkspaceProvider {
    const mirror = this.path(repoId);
    const base = join(this.workDir, runId);
    const how = this.sharedClones ? '--shared' : '--no-hardlinks';
    return {
      async prepare(_runId: string, taskKey: string, checkout: CheckoutDef): Promise<TaskDirs> {
        const root = join(base, taskKey.replace(/[^A-Za-z0-9._-]/g, '_'));
        const dirs: TaskDirs = { root, workspace: join(root, 'workspace'), data: join(root, 'task-data') };
        await rm(root, { recursive: true, force: true });
        await mkdir(base, { recursive: true, mode: 0o711 });
        await mkdir(dirs.data, { recursive: true });
        if (!checkout.enabled) await mkdir(dirs.workspace, { recursive: true });
        else {
          await git(['clone', '--quiet', how, '--no-checkout', '--template=', mirror, dirs.workspace], root);
          // `git checkout` has no --end-of-options: the revision is checked instead.
          if (!isObjectId(sha) && sha !== 'HEAD') throw new Error(`'${sha}' is not a commit id`);
          await git(['checkout', '--quiet', '--detach', sha], dirs.workspace);
        }
        if (attach) await cp(attach.from, join(dirs.workspace, attach.as), { recursive: true });
        return dirs;
      },
      async release(dirs: TaskDirs): Promise<void> {
        await rm(dirs.root, { recursive: true, force: true });
        await rmdir(base).catch(() => undefined); // the last task of the run removes the run's folder
      },
    };
  }
}

/** A full SHA-1 or SHA-256 object id, lower-case hex. */
export function isObjectId(text: string): boolean {
  return /^([0-9a-f]{40}|[0-9a-f]{64})$/.test(text);
}

function describe(revision: Revision): string {
  if (revision.commit) return `commit ${revision.commit}`;
  if (revision.tag !== undefined) return `tag '${revision.tag}'`;
  return `branch '${revision.branch ?? ''}'`;
}
