import { execFileSync } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { ApiClient, loadConfig } from './client.js';

const gitOut = (args: string[], cwd: string): string | undefined => {
  try {
    return execFileSync('git', args, { cwd, stdio: ['ignore', 'pipe', 'ignore'], encoding: 'utf8' }).trim();
  } catch {
    return undefined;
  }
};

const canonical = (url: string): string => {
  let u = url
    .trim()
    .replace(/\/+$/, '')
    .replace(/\.git$/, '');
  if (u.startsWith('file://')) u = u.slice('file://'.length);
  try {
    if (u.startsWith('/')) u = realpathSync(u);
  } catch {
    // a path that does not exist here stays as written
  }
  return u.replace(/^[a-z+]+:\/\/([^@/]*@)?/i, '').replace(/^[^@/]+@([^:]+):/, '$1/');
};

/**
 * The repository a command means when neither --repo nor CONVEYOR_REPO says: the checkout's
 * `git config conveyor.repo` (set by `conveyor repos link`), else the one registered repository
 * whose clone URL is one of the checkout's remotes or the checkout itself.
 */
export async function inferRepo(cwd = process.cwd()): Promise<string | undefined> {
  const linked = gitOut(['config', '--get', 'conveyor.repo'], cwd);
  if (linked) return linked;
  const top = gitOut(['rev-parse', '--show-toplevel'], cwd);
  if (!top) return undefined;
  const candidates = new Set([canonical(top)]);
  for (const line of (gitOut(['remote', '-v'], cwd) ?? '').split('\n')) {
    const url = line.split(/\s+/)[1];
    if (url) candidates.add(canonical(url));
  }
  let config;
  try {
    config = loadConfig();
  } catch {
    return undefined;
  }
  const { repositories } = await new ApiClient(config)
    .request<{ repositories: { slug: string; organization: { slug: string }; source_url: string }[] }>(
      'GET',
      '/repos',
    )
    .catch(() => ({ repositories: [] }));
  const matches = repositories.filter((r) => candidates.has(canonical(r.source_url)));
  return matches.length === 1 && matches[0]
    ? `${matches[0].organization.slug}/${matches[0].slug}`
    : undefined;
}
