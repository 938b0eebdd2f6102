import type { FastifyPluginAsync } from 'fastify';
import { plugin } from '../plugin.js';
import { invalid, notFound } from '../../app/errors.js';
import { hashToken, newToken } from '../../app/secret-box.js';
import type { User } from '../../ports/directory-store.js';
import type { ServerContext } from '../context.js';
import { tokenJson, userJson } from '../present.js';
import { CreateTokenBody, CreateUserBody } from '../schemas.js';

/** Users and their personal access tokens. */
export function userRoutes(ctx: ServerContext): FastifyPluginAsync {
  const { access } = ctx;
  const { directory, clock, newId } = ctx.services;

  /** The user named in the path, if the caller is that user or an administrator; else 404. */
  const self = async (principal: Parameters<typeof access.requireUser>[0], slug: string): Promise<User> => {
    const caller = access.requireUser(principal);
    const user = await directory.findUserBySlug(slug.toLowerCase());
    if (!user || (user.id !== caller.id && !caller.admin)) throw notFound(`user '${slug}' not found`);
    return user;
  };

  return plugin((app) => {
    app.post<{ Body: CreateUserBody }>(
      '/users',
      { schema: { body: CreateUserBody, tags: ['Users'] } },
      async (request, reply) => {
        access.requireAdmin(request.principal);
        const body = request.body;
        const user: User = {
          id: newId(),
          slug: body.slug.toLowerCase(),
          email: body.email,
          firstName: body.first_name ?? '',
          lastName: body.last_name ?? '',
          admin: body.admin ?? false,
          createdAt: clock.now(),
        };
        await directory.insertUser(user);
        return reply.code(201).send(userJson(user));
      },
    );

    app.get('/users', { schema: { tags: ['Users'] } }, async (request) => {
      access.requireAdmin(request.principal);
      return { users: (await directory.listUsers()).map(userJson) };
    });

    app.get('/user', { schema: { tags: ['Users'] } }, (request) =>
      Promise.resolve(userJson(access.requireUser(request.principal))),
    );

    app.get<{ Params: { user_slug: string } }>(
      '/users/:user_slug',
      { schema: { tags: ['Users'] } },
      async (request) => userJson(await self(request.principal, request.params.user_slug)),
    );

    app.post<{ Params: { user_slug: string }; Body: CreateTokenBody }>(
      '/users/:user_slug/tokens',
      { schema: { body: CreateTokenBody, tags: ['Users'] } },
      async (request, reply) => {
        const user = await self(request.principal, request.params.user_slug);
        const body = request.body ?? {};
        const now = clock.now();
        const expiresAt = body.expires_at === undefined ? undefined : Date.parse(body.expires_at);
        if (expiresAt !== undefined && !(expiresAt > now))
          throw invalid('expires_at must be in the future', { expires_at: body.expires_at ?? '' });
        const token = newToken();
        const record = {
          id: newId(),
          userId: user.id,
          note: body.note ?? '',
          createdAt: now,
          ...(expiresAt !== undefined ? { expiresAt } : {}),
        };
        await directory.insertToken(record, hashToken(token));
        return reply.code(201).send({ ...tokenJson(record), token });
      },
    );

    app.get<{ Params: { user_slug: string } }>(
      '/users/:user_slug/tokens',
      { schema: { tags: ['Users'] } },
      async (request) => {
        const user = await self(request.principal, request.params.user_slug);
        return { tokens: (await directory.listTokens(user.id)).map(tokenJson) };
      },
    );

    app.delete<{ Params: { user_slug: string; token_id: string } }>(
      '/users/:user_slug/tokens/:token_id',
      { schema: { tags: ['Users'] } },
      async (request, reply) => {
        const user = await self(request.principal, request.params.user_slug);
        if (!(await directory.revokeToken(user.id, request.params.token_id, clock.now())))
          throw notFound(`token ${request.params.token_id} not found or already revoked`);
        ctx.access.forget();
        return reply.code(204).send();
      },
    );
  });
}
