import type { FastifyPluginAsync } from 'fastify';
import { plugin } from '../plugin.js';
import { denied, invalid, notFound } from '../../app/errors.js';
import type { Principal } from '../../app/access.js';
import type { Org, Repo } from '../../ports/directory-store.js';
import type { ServerContext } from '../context.js';
import { orgJson, repoJson, withoutCredentials } from '../present.js';
import { CreateOrgBody, CreateRepoBody } from '../schemas.js';
import { secretRoutes } from './secret-routes.js';

/** Organizations, their repositories and their secrets. */
export function orgRoutes(ctx: ServerContext): FastifyPluginAsync {
  const { access } = ctx;
  const { directory, clock, newId, mirrors } = ctx.services;

  const orgOf = (slug: string): Promise<Org> => findOrg(ctx, slug);
  const manage = (principal: Principal, slug: string): Promise<Org> => manageOrg(ctx, principal, slug);

  return plugin((app) => {
    app.post<{ Body: CreateOrgBody }>(
      '/orgs',
      { schema: { body: CreateOrgBody, tags: ['Organizations'] } },
      async (request, reply) => {
        const user = access.requireUser(request.principal);
        if (!user.admin && ctx.policy.orgCreators !== 'users')
          throw denied(
            'only server administrators may create organizations (the server setting CONVEYOR_ORG_CREATORS=users lets any signed-in user)',
          );
        const org: Org = {
          id: newId(),
          slug: request.body.slug.toLowerCase(),
          name: request.body.name,
          createdAt: clock.now(),
        };
        await directory.insertOrg(org, user.id);
        return reply.code(201).send(orgJson(org));
      },
    );

    // Administrators see every organization; others those they have a role in.
    app.get('/orgs', { schema: { tags: ['Organizations'] } }, async (request) => {
      const user = access.requireUser(request.principal);
      const orgs = await directory.listOrgs(user.admin ? undefined : user.id);
      return { organizations: orgs.map(orgJson) };
    });

    app.get<{ Params: { org_slug: string } }>(
      '/orgs/:org_slug',
      { schema: { tags: ['Organizations'] } },
      async (request) => {
        access.requireUser(request.principal);
        return orgJson(await orgOf(request.params.org_slug));
      },
    );

    app.post<{ Params: { org_slug: string }; Body: CreateRepoBody }>(
      '/orgs/:org_slug/repos',
      { schema: { body: CreateRepoBody, tags: ['Repositories'] } },
      async (request, reply) => {
        const org = await manage(request.principal, request.params.org_slug);
        const body = request.body;
        if (body.clone_url.startsWith('-') || /^ext::/i.test(body.clone_url))
          throw invalid('clone_url must be a git URL or a path', { clone_url: body.clone_url });
        // The server reads a local path with its own permissions: only its administrators may name one.
        if (isLocalCloneUrl(body.clone_url) && !access.requireUser(request.principal).admin)
          throw denied('a clone_url on this machine (a path or file://) needs a server administrator');
        const webhookSecret = ctx.box.sign(`webhook:${newId()}`);
        const repo: Repo = {
          id: newId(),
          orgId: org.id,
          orgSlug: org.slug,
          slug: body.slug.toLowerCase(),
          name: body.name,
          description: body.description ?? '',
          visibility: body.visibility ?? 'private',
          cloneUrl: body.clone_url,
          defaultBranch: body.default_branch ?? 'main',
          pollIntervalMs: (body.poll_interval_seconds ?? 60) * 1000,
          webhookSecretEnc: ctx.box.encrypt(webhookSecret),
          createdAt: clock.now(),
        };
        // Fetch first: a clone URL git cannot read is a 400 now, not a silent failure on every push.
        try {
          await mirrors.sync(repo.id, repo.cloneUrl);
        } catch (error) {
          // Neither the credentials in the URL nor the server's own paths go back in the answer (D11, D19).
          const reason = (error instanceof Error ? error.message : String(error))
            .split(body.clone_url)
            .join(withoutCredentials(body.clone_url))
            .replace(/ in \/\S+\.git:/g, ':')
            .replace(/\/\S*\/mirrors\/[^\s:'"]+/g, '<mirror>');
          throw invalid(`cannot fetch clone_url: ${reason}`, {
            clone_url: withoutCredentials(body.clone_url),
          });
        }
        // Without a default branch given, the remote's HEAD names it (git init makes master or main).
        if (!body.default_branch)
          repo.defaultBranch = (await mirrors.remoteDefaultBranch(repo.id, repo.cloneUrl)) ?? 'main';
        await directory.insertRepo(repo);
        await ctx.triggers.poll(repo).catch(() => undefined); // records the refs as they are now
        return reply.code(201).send({ ...repoJson(repo), webhook_secret: webhookSecret });
      },
    );

    app.get<{ Params: { org_slug: string } }>(
      '/orgs/:org_slug/repos',
      { schema: { tags: ['Repositories'] } },
      async (request) => {
        const org = await orgOf(request.params.org_slug);
        const visible = [];
        for (const repo of await directory.listRepos(org.id))
          if ((await access.roleOn(request.principal, repo)) !== undefined) visible.push(repoJson(repo));
        // Signed-in users may learn which organizations exist (GET /orgs/{org}); an anonymous caller
        // learns of one only through a public repository, so an empty answer would name it (D19).
        if (visible.length === 0 && !request.principal.user)
          throw notFound(`organization '${request.params.org_slug}' not found`);
        return { repositories: visible };
      },
    );

    secretRoutes(app, ctx, 'org', ['/orgs/:org_slug/cicd/secrets'], async (request) => {
      const params = request.params as { org_slug: string };
      return (await manage(request.principal, params.org_slug)).id;
    });
  });
}

async function findOrg(ctx: ServerContext, slug: string): Promise<Org> {
  const org = await ctx.services.directory.findOrg(slug.toLowerCase());
  if (!org) throw notFound(`organization '${slug}' not found`);
  return org;
}

/** Server administrators and the organization's admins manage it. */
export async function manageOrg(ctx: ServerContext, principal: Principal, slug: string): Promise<Org> {
  const user = ctx.access.requireUser(principal);
  const org = await findOrg(ctx, slug);
  if (!user.admin && (await ctx.services.directory.orgRole(org.id, user.id)) !== 'admin')
    throw denied(`only admins of organization '${org.slug}' may do this`);
  return org;
}

/** Whether git would read a clone URL from this machine's file system (a path or file://). */
export function isLocalCloneUrl(url: string): boolean {
  if (/^file:/i.test(url)) return true;
  if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(url)) return false;
  // scp-like `host:path` or `user@host:path` (no slash before the colon) is ssh.
  return !/^[^/:]+:/.test(url);
}
