import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify';
import { notFound } from '../../app/errors.js';
import type { ServiceConnection } from '../../ports/identity-store.js';
import type { ServerContext } from '../context.js';
import { plugin } from '../plugin.js';
import { repoFor, repoPaths, type RepoParams } from '../repo-paths.js';
import { ServiceConnectionBody, ServiceConnectionName } from '../schemas.js';
import { manageOrg } from './orgs.js';

type Resolve = (request: FastifyRequest) => Promise<string>;

function connectionJson(c: ServiceConnection) {
  return {
    name: c.name,
    scope: c.scope,
    audience: c.audience,
    ...(c.serviceAccountId !== undefined ? { service_account_id: c.serviceAccountId } : {}),
    ...(c.folderId !== undefined ? { folder_id: c.folderId } : {}),
    created_at: new Date(c.createdAt).toISOString(),
    updated_at: new Date(c.updatedAt).toISOString(),
  };
}

/**
 * Service connections of repositories (maintainers) and organizations (their admins): PUT sets,
 * GET reads one or lists, DELETE removes. A config's `tokens:` names them; the repository's own
 * connection of a name comes before its organization's.
 */
export function serviceConnectionRoutes(ctx: ServerContext): FastifyPluginAsync {
  return plugin((app) => {
    const repo = (request: FastifyRequest) =>
      repoFor(ctx, request.principal, request.params as RepoParams, 'maintainer').then((r) => r.id);
    const org = async (request: FastifyRequest) =>
      (await manageOrg(ctx, request.principal, (request.params as { org_slug: string }).org_slug)).id;
    routes(app, ctx, 'repo', repoPaths('/cicd/service-connections', false), repo);
    routes(app, ctx, 'org', ['/orgs/:org_slug/cicd/service-connections'], org);
  });
}

function routes(
  app: FastifyInstance,
  ctx: ServerContext,
  scope: ServiceConnection['scope'],
  bases: string[],
  scopeId: Resolve,
): void {
  const identity = ctx.identity;
  const params = {
    type: 'object',
    properties: { name: ServiceConnectionName },
    additionalProperties: true,
  } as const;
  const schema = { params, tags: ['Service connections'] };
  const find = async (request: FastifyRequest<{ Params: { name: string } }>) => {
    const found = await identity.getConnection(scope, await scopeId(request), request.params.name);
    if (!found) throw notFound(`service connection '${request.params.name}' not found`);
    return found;
  };
  for (const base of bases) {
    app.get(base, { schema: { tags: schema.tags } }, async (request) => ({
      service_connections: (await identity.listConnections(scope, await scopeId(request))).map(
        connectionJson,
      ),
    }));
    app.get<{ Params: { name: string } }>(`${base}/:name`, { schema }, async (request) =>
      connectionJson(await find(request)),
    );
    app.put<{ Params: { name: string }; Body: ServiceConnectionBody }>(
      `${base}/:name`,
      { schema: { ...schema, body: ServiceConnectionBody } },
      async (request) => {
        const now = ctx.services.clock.now();
        const { audience, service_account_id: sa, folder_id: folder } = request.body;
        const saved = await identity.putConnection({
          scope,
          scopeId: await scopeId(request),
          name: request.params.name,
          audience,
          ...(sa ? { serviceAccountId: sa } : {}),
          ...(folder ? { folderId: folder } : {}),
          createdAt: now,
          updatedAt: now,
        });
        return connectionJson(saved);
      },
    );
    app.delete<{ Params: { name: string } }>(`${base}/:name`, { schema }, async (request, reply) => {
      if (!(await identity.deleteConnection(scope, await scopeId(request), request.params.name)))
        throw notFound(`service connection '${request.params.name}' not found`);
      return reply.code(204).send();
    });
  }
}

/** The issuer's discovery document and keys: public, without authentication (cloud providers fetch them). */
export function oidcRoutes(ctx: ServerContext): FastifyPluginAsync {
  return plugin((app) => {
    const cache = (reply: { header(k: string, v: string): unknown }) =>
      reply.header('cache-control', 'public, max-age=60');
    app.get('/.well-known/openid-configuration', { schema: { tags: ['OIDC'] } }, async (_request, reply) => {
      cache(reply);
      return Promise.resolve(ctx.issuer.discovery());
    });
    app.get('/.well-known/jwks', { schema: { tags: ['OIDC'] } }, async (_request, reply) => {
      cache(reply);
      return ctx.issuer.jwks();
    });
  });
}
