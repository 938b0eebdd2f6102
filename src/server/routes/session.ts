import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { AppError } from '../../app/errors.js';
import type { ServerContext } from '../context.js';
import { plugin } from '../plugin.js';
import { userJson } from '../present.js';
import { readCookie, SESSION_COOKIE, UiSessions } from '../ui/sessions.js';

const SignInBody = Type.Object(
  { token: Type.String({ minLength: 1, maxLength: 4096 }) },
  { additionalProperties: false },
);
type SignInBody = Static<typeof SignInBody>;

/**
 * The web UI's sign-in: POST /session exchanges a personal access token for a session cookie,
 * GET /session says who is signed in (and the CSRF token), DELETE /session signs out.
 */
export function sessionRoutes(ctx: ServerContext): FastifyPluginAsync {
  const secure = (request: FastifyRequest) =>
    request.protocol === 'https' || ctx.baseUrl().startsWith('https:');
  const cookie = (request: FastifyRequest, value: string, maxAgeS: number) =>
    `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeS}${secure(request) ? '; Secure' : ''}`;

  return plugin((app) => {
    app.post<{ Body: SignInBody }>(
      '/session',
      { schema: { body: SignInBody, tags: ['Web UI sessions'] } },
      async (request, reply) => {
        const signed = await ctx.sessions.signIn(request.body.token);
        const maxAge = Math.max(0, Math.floor((signed.expiresAt - Date.now()) / 1000));
        reply.header('set-cookie', cookie(request, signed.token, maxAge));
        noStore(reply);
        return {
          user: userJson(signed.user),
          csrf_token: signed.csrf,
          expires_at: new Date(signed.expiresAt).toISOString(),
        };
      },
    );

    app.get('/session', { schema: { tags: ['Web UI sessions'] } }, (request, reply) => {
      const value = readCookie(request.headers.cookie, SESSION_COOKIE);
      const user = request.principal.user;
      noStore(reply);
      if (!value || !user || request.headers.authorization)
        throw new AppError('Unauthenticated', 'not signed in: POST /session with a personal access token');
      return Promise.resolve({ user: userJson(user), csrf_token: UiSessions.csrfFor(value) });
    });

    app.delete('/session', { schema: { tags: ['Web UI sessions'] } }, async (request, reply) => {
      const value = readCookie(request.headers.cookie, SESSION_COOKIE);
      if (value && request.principal.user) await ctx.sessions.signOut(value);
      reply.header('set-cookie', cookie(request, '', 0));
      noStore(reply);
      return reply.code(204).send();
    });
  });
}

function noStore(reply: FastifyReply): void {
  reply.header('cache-control', 'no-store');
}
