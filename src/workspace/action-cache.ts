import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cp, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { ActionRepoRef, ActionSource, FetchedAction } from '../ports/action-source.js';

const exec = promisify(execFile);
const GIT_TIMEOUT_MS = 120_000;
/** How long a ref's resolution is reused before the remote is asked again (a tag may move). */
const RESOLVE_TTL_MS = 60_000;

interface Resolution {
  sha: string;
  refspec?: string;
  note?: string;
}

export const DEFAULT_ACTIONS_URL = 'https://github.com';

/**
 * GitHub Actions fetched with git from `<baseUrl>/owner/repo` and kept under `cacheDir`, one
 * directory per repository and commit (files only, no .git). A ref is resolved with `git ls-remote`
 * at most once a minute per process (tags move, so it is asked again after that); a commit already
 * cached is never downloaded again. When the remote cannot be reached, the last resolution of that
 * ref is used, and the log says so.
 */
export class GitActionSource implements ActionSource {
  private readonly downloads = new Map<string, Promise<void>>();
  /** `url@ref` -> its resolution, reused for RESOLVE_TTL_MS (a run's cubes ask for the same refs). */
  private readonly resolved = new Map<string, { at: number; value: Promise<Resolution> }>();

  constructor(
    private readonly cacheDir: string,
    private readonly baseUrl: string = DEFAULT_ACTIONS_URL,
    private readonly resolveTtlMs = RESOLVE_TTL_MS,
  ) {}

  async fetch(ref: ActionRepoRef, into: string): Promise<FetchedAction> {
    const url = ref.url ?? `${this.baseUrl.replace(/\/+$/, '')}/${ref.owner}/${ref.repo}`;
    const home = join(this.cacheDir, safeName(url));
    const resolved = await this.resolveOnce(url, ref.ref, home);
    const cached = join(home, resolved.sha);
    const hit = await exists(cached);
    if (!hit) await this.download(url, ref.ref, resolved, cached);
    const dir = join(into, ref.owner, ref.repo, resolved.sha);
    if (!(await exists(dir))) {
      await mkdir(join(into, ref.owner, ref.repo), { recursive: true });
      await cp(cached, dir, { recursive: true, verbatimSymlinks: true });
    }
    const source = `${url}@${ref.ref}${ref.ref === resolved.sha ? '' : ` = ${resolved.sha.slice(0, 12)}`}`;
    return {
      dir,
      sha: resolved.sha,
      note: `${source} (${hit ? 'cached' : 'downloaded'})${resolved.note ? `; ${resolved.note}` : ''}`,
    };
  }

  private resolveOnce(url: string, ref: string, home: string): Promise<Resolution> {
    const key = `${url}@${ref}`;
    const now = Date.now();
    const known = this.resolved.get(key);
    if (known && now - known.at < this.resolveTtlMs) return known.value;
    const value = this.resolve(url, ref, home);
    this.resolved.set(key, { at: now, value });
    value.catch(() => this.resolved.delete(key));
    return value;
  }

  private async resolve(url: string, ref: string, home: string): Promise<Resolution> {
    if (/^[0-9a-f]{40}$/i.test(ref)) return { sha: ref.toLowerCase() };
    const memo = join(home, 'refs.json');
    let listing: string;
    try {
      listing = await gitOut(['ls-remote', '--', url, ref, `refs/tags/${ref}^{}`]);
    } catch (error) {
      const known = (await readJson(memo))[ref];
      if (known) {
        const at = new Date(known.at).toISOString();
        return {
          sha: known.sha,
          note: `${url} could not be reached, so ${ref} is the commit it was at ${at}`,
        };
      }
      throw new Error(`cannot read the action repository ${url}: ${message(error)}`, { cause: error });
    }
    const refs = new Map<string, string>();
    for (const line of listing.split('\n')) {
      const [sha, name] = line.split('\t');
      if (sha && name) refs.set(name, sha);
    }
    const candidates: [string, string][] = [
      [`refs/tags/${ref}^{}`, `refs/tags/${ref}`],
      [`refs/tags/${ref}`, `refs/tags/${ref}`],
      [`refs/heads/${ref}`, `refs/heads/${ref}`],
    ];
    for (const [name, refspec] of candidates) {
      const sha = refs.get(name);
      if (!sha) continue;
      await mkdir(home, { recursive: true });
      const all = await readJson(memo);
      all[ref] = { sha, at: Date.now() };
      await writeFile(memo, JSON.stringify(all));
      return { sha, refspec };
    }
    const hint = /^[0-9a-f]{7,39}$/i.test(ref) ? ': give a commit as its full 40-character SHA' : '';
    throw new Error(`${url} has no tag or branch '${ref}'${hint}`);
  }

  /** Downloads one commit into the cache: shallow when the ref is a name, whole otherwise. */
  private download(url: string, ref: string, resolved: Resolution, target: string): Promise<void> {
    const running = this.downloads.get(target);
    if (running) return running;
    const job = (async () => {
      const tmp = `${target}.tmp-${randomBytes(4).toString('hex')}`;
      try {
        await mkdir(tmp, { recursive: true });
        await gitOut(['init', '--quiet', '--template=', tmp]);
        const git = (args: string[]) => gitOut(['-C', tmp, ...args]);
        try {
          await git([
            'fetch',
            '--quiet',
            '--depth',
            '1',
            '--no-tags',
            '--',
            url,
            resolved.refspec ?? resolved.sha,
          ]);
        } catch {
          // A server that refuses to send a commit by SHA: fetch everything, then pick the commit.
          await git([
            'fetch',
            '--quiet',
            '--no-tags',
            '--',
            url,
            '+refs/heads/*:refs/x/heads/*',
            '+refs/tags/*:refs/x/tags/*',
          ]);
        }
        await git(['-c', 'advice.detachedHead=false', 'checkout', '--quiet', '--detach', resolved.sha]).catch(
          (error: unknown) => {
            throw new Error(
              `${url}@${ref}: commit ${resolved.sha} could not be checked out: ${message(error)}`,
            );
          },
        );
        await rm(join(tmp, '.git'), { recursive: true, force: true });
        await rename(tmp, target).catch(async (error: unknown) => {
          if (!(await exists(target))) throw error; // another process cached it first: keep theirs
        });
      } finally {
        await rm(tmp, { recursive: true, force: true });
        this.downloads.delete(target);
      }
    })();
    this.downloads.set(target, job);
    return job;
  }
}

async function gitOut(args: string[]): Promise<string> {
  try {
    const { stdout } = await exec('git', args, {
      encoding: 'utf8',
      timeout: GIT_TIMEOUT_MS,
      maxBuffer: 64 * 1024 * 1024,
      env: { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_ASKPASS: 'true' },
    });
    return stdout;
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr?.trim();
    throw new Error(stderr || message(error), { cause: error });
  }
}

function message(error: unknown): string {
  return error instanceof Error
    ? (error.message.split('\n').find((l) => l.trim()) ?? error.message)
    : String(error);
}

/** A directory name for a URL: its host and path, other characters replaced. */
function safeName(url: string): string {
  return url.replace(/^[a-z]+:\/\//i, '').replace(/[^A-Za-z0-9._-]+/g, '_');
}

async function exists(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined)) !== undefined;
}

async function readJson(file: string): Promise<Record<string, { sha: string; at: number }>> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as Record<string, { sha: string; at: number }>;
  } catch {
    return {};
  }
}
