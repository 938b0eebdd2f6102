import type { FastifyPluginAsync } from 'fastify';
import { loadRepoConfig } from '../../app/create-run.js';
import { AppError, invalid } from '../../app/errors.js';
import type { Repo } from '../../ports/directory-store.js';
import type { ServerContext } from '../context.js';
import { plugin } from '../plugin.js';
import { repoJson } from '../present.js';
import { repoFor, repoPaths, type RepoParams } from '../repo-paths.js';

/**
 * What a person browsing needs besides runs: the repositories they can see, a repository's
 * branches, and the workflows (with their inputs) a branch's config declares, for "New run".
 */
export function repoBrowseRoutes(ctx: ServerContext): FastifyPluginAsync {
  const { directory, mirrors } = ctx.services;
  const fresh = async (repo: Repo) =>
    mirrors.sync(repo.id, repo.cloneUrl, 5000).catch((error: unknown) => {
      throw new AppError(
        'Unavailable',
        `cannot fetch the repository: ${error instanceof Error ? error.message : String(error)}`,
      );
    });

  return plugin((app) => {
    app.get('/repos', { schema: { tags: ['Repositories'] } }, async (request) => {
      const visible = [];
      for (const repo of await directory.listAllRepos())
        if ((await ctx.access.roleOn(request.principal, repo)) !== undefined) visible.push(repoJson(repo));
      visible.sort((a, b) =>
        `${a.organization.slug}/${a.slug}`.localeCompare(`${b.organization.slug}/${b.slug}`),
      );
      return { repositories: visible };
    });

    for (const path of repoPaths('/cicd/branches', false)) {
      app.get<{ Params: RepoParams }>(path, { schema: { tags: ['CICD'] } }, async (request) => {
        const repo = await repoFor(ctx, request.principal, request.params, 'reader');
        await fresh(repo);
        const refs = await mirrors.listRefs(repo.id);
        const branches = Object.entries(refs)
          .filter(([name]) => name.startsWith('refs/heads/'))
          .map(([name, sha]) => ({ name: name.slice('refs/heads/'.length), commit: sha }))
          .sort((a, b) =>
            a.name === repo.defaultBranch
              ? -1
              : b.name === repo.defaultBranch
                ? 1
                : a.name.localeCompare(b.name),
          );
        return { default_branch: repo.defaultBranch, branches };
      });
    }

    for (const path of repoPaths('/cicd/workflows', false)) {
      app.get<{ Params: RepoParams; Querystring: { branch?: string } }>(
        path,
        { schema: { tags: ['CICD'] } },
        async (request) => {
          const repo = await repoFor(ctx, request.principal, request.params, 'reader');
          const branch = request.query.branch ?? repo.defaultBranch;
          await fresh(repo);
          let sha: string;
          try {
            sha = (await mirrors.resolve(repo.id, { branch })).sha;
          } catch (error) {
            throw invalid(`branch: ${error instanceof Error ? error.message : String(error)}`, { branch });
          }
          const loaded = await loadRepoConfig(mirrors, repo, sha);
          return {
            branch,
            commit: sha,
            config_file: loaded.file,
            errors: loaded.errors,
            workflows: (loaded.config?.workflows ?? []).map((w) => ({
              name: w.name,
              inputs: w.inputs.map((i) => ({
                name: i.name,
                type: i.type,
                required: i.required,
                ...(i.default !== undefined ? { default: i.default } : {}),
                ...(i.description !== undefined ? { description: i.description } : {}),
              })),
            })),
          };
        },
      );
    }
  });
}
