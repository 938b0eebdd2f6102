import type { FastifyPluginAsync } from 'fastify';
import { plugin } from '../plugin.js';
import { invalid } from '../../app/errors.js';
import type { RepoRole } from '../../ports/directory-store.js';
import type { ServerContext } from '../context.js';
import { repoJson, userJson } from '../present.js';
import { repoFor, repoPaths, type RepoParams } from '../repo-paths.js';
import { SubjectRoles, UpdateRepoBody } from '../schemas.js';
import { manageOrg } from './orgs.js';
import { secretRoutes } from './secret-routes.js';

/** One repository: its description, roles (SourceCraft's roles API), secrets and webhook secret. */
export function repoRoutes(ctx: ServerContext): FastifyPluginAsync {
  const { directory } = ctx.services;

  const rolesJson = async (repoId: string) => ({
    subject_roles: (await directory.listRepoRoles(repoId)).map(({ user, role }) => ({
      role,
      subject: { type: 'user', id: user.id, slug: user.slug },
      user: userJson(user),
    })),
  });

  return plugin((app) => {
    for (const path of repoPaths('', false)) {
      app.get<{ Params: RepoParams }>(path, { schema: { tags: ['Repositories'] } }, async (request) =>
        repoJson(await repoFor(ctx, request.principal, request.params, 'reader')),
      );
    }
    for (const path of repoPaths('', false)) {
      app.patch<{ Params: RepoParams; Body: UpdateRepoBody }>(
        path,
        { schema: { body: UpdateRepoBody, tags: ['Repositories'] } },
        async (request) => {
          const repo = await repoFor(ctx, request.principal, request.params, 'admin');
          const body = request.body;
          if (
            body.clone_url !== undefined &&
            (body.clone_url.startsWith('-') || /^ext::/i.test(body.clone_url))
          )
            throw invalid('clone_url must be a git URL or a path', { clone_url: body.clone_url });
          const next = {
            ...repo,
            ...(body.name !== undefined ? { name: body.name } : {}),
            ...(body.description !== undefined ? { description: body.description } : {}),
            ...(body.visibility !== undefined ? { visibility: body.visibility } : {}),
            ...(body.clone_url !== undefined ? { cloneUrl: body.clone_url } : {}),
            ...(body.default_branch !== undefined ? { defaultBranch: body.default_branch } : {}),
            ...(body.poll_interval_seconds !== undefined
              ? { pollIntervalMs: body.poll_interval_seconds * 1000 }
              : {}),
          };
          if (next.cloneUrl !== repo.cloneUrl)
            await ctx.services.mirrors.sync(repo.id, next.cloneUrl).catch((error: unknown) => {
              throw invalid(
                `cannot fetch clone_url: ${error instanceof Error ? error.message : String(error)}`,
                {
                  clone_url: next.cloneUrl,
                },
              );
            });
          await directory.updateRepo(next);
          ctx.access.forget();
          return repoJson(next);
        },
      );
      app.delete<{ Params: RepoParams }>(
        path,
        { schema: { tags: ['Repositories'] } },
        async (request, reply) => {
          const repo = await repoFor(ctx, request.principal, request.params, 'reader');
          await manageOrg(ctx, request.principal, repo.orgSlug); // only organization admins delete
          await directory.deleteRepo(repo.id);
          ctx.access.forget();
          return reply.code(204).send();
        },
      );
    }
    for (const path of repoPaths('/roles', false)) {
      app.get<{ Params: RepoParams }>(path, { schema: { tags: ['Roles'] } }, async (request) => {
        const repo = await repoFor(ctx, request.principal, request.params, 'admin');
        return rolesJson(repo.id);
      });
      app.post<{ Params: RepoParams; Body: SubjectRoles }>(
        path,
        { schema: { body: SubjectRoles, tags: ['Roles'] } },
        async (request) => {
          const repo = await repoFor(ctx, request.principal, request.params, 'admin');
          for (const { role, user } of await subjects(request.body))
            await directory.setRepoRole(repo.id, user, role);
          ctx.access.forget();
          return rolesJson(repo.id);
        },
      );
      app.post<{ Params: RepoParams; Body: SubjectRoles }>(
        `${path}/remove`,
        { schema: { body: SubjectRoles, tags: ['Roles'] } },
        async (request) => {
          const repo = await repoFor(ctx, request.principal, request.params, 'admin');
          for (const { user, role } of await subjects(request.body))
            if ((await directory.repoRole(repo.id, user)) === role)
              await directory.setRepoRole(repo.id, user, undefined);
          ctx.access.forget();
          return rolesJson(repo.id);
        },
      );
    }
    for (const path of repoPaths('/cicd/webhook', false)) {
      app.get<{ Params: RepoParams }>(path, { schema: { tags: ['Webhooks'] } }, async (request) => {
        const repo = await repoFor(ctx, request.principal, request.params, 'admin');
        return {
          github_url: `${ctx.baseUrl()}/repos/${repo.orgSlug}/${repo.slug}/cicd/webhooks/github`,
          gitlab_url: `${ctx.baseUrl()}/repos/${repo.orgSlug}/${repo.slug}/cicd/webhooks/gitlab`,
          secret: ctx.box.decrypt(repo.webhookSecretEnc),
        };
      });
    }
    secretRoutes(
      app,
      ctx,
      'repo',
      repoPaths('/cicd/secrets', false),
      async (request) =>
        (await repoFor(ctx, request.principal, request.params as RepoParams, 'maintainer')).id,
    );
  });

  /** Subjects by user id or slug; an unknown user is a 400 naming it. */
  async function subjects(body: SubjectRoles): Promise<{ user: string; role: RepoRole }[]> {
    const out: { user: string; role: RepoRole }[] = [];
    for (const { role, subject } of body.subject_roles) {
      const user =
        (await directory.findUserById(subject.id)) ??
        (await directory.findUserBySlug(subject.id.toLowerCase()));
      if (!user) throw invalid(`unknown user '${subject.id}'`, { subject: subject.id });
      out.push({ user: user.id, role });
    }
    return out;
  }
}
