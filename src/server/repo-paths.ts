import type { Principal } from '../app/access.js';
import { notFound } from '../app/errors.js';
import type { Repo, RepoRole } from '../ports/directory-store.js';
import type { ServerContext } from './context.js';

export interface RepoParams {
  org_slug?: string;
  repo_slug?: string;
  repo_ref?: string;
}

/**
 * The paths one repository-scoped route answers on: `/repos/{org}/{repo}...`, the withdrawn
 * unprefixed `/{org}/{repo}...` that older SourceCraft clients call, and `/repos/id:{repo_id}...`.
 */
export function repoPaths(suffix: string, legacy = true): string[] {
  return [
    `/repos/:org_slug/:repo_slug${suffix}`,
    ...(legacy ? [`/:org_slug/:repo_slug${suffix}`] : []),
    `/repos/:repo_ref${suffix}`,
  ];
}

/** The repository a request names, if the caller holds `role` on it (404 when it may not read it). */
export async function repoFor(
  ctx: ServerContext,
  principal: Principal,
  params: RepoParams,
  role: RepoRole | 'reader',
): Promise<Repo> {
  const { directory } = ctx.services;
  let repo: Repo | undefined;
  let label: string;
  if (params.repo_ref !== undefined) {
    const id = /^id:(.+)$/.exec(params.repo_ref)?.[1];
    label = params.repo_ref;
    if (!id)
      throw notFound(
        `no route for '/repos/${params.repo_ref}': use /repos/{org}/{repo} or /repos/id:{repo_id}`,
      );
    repo = /^[0-9a-f-]{36}$/i.test(id) ? await directory.findRepoById(id.toLowerCase()) : undefined;
  } else {
    label = `${params.org_slug ?? ''}/${params.repo_slug ?? ''}`;
    repo = await ctx.access.findRepo(
      (params.org_slug ?? '').toLowerCase(),
      (params.repo_slug ?? '').toLowerCase(),
    );
  }
  return ctx.access.repo(principal, repo, role, label);
}
