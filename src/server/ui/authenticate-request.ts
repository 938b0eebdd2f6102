import type { FastifyRequest } from 'fastify';
import { ANONYMOUS, type Principal } from '../../app/access.js';
import { AppError } from '../../app/errors.js';
import type { ServerContext } from '../context.js';
import { CSRF_HEADER, readCookie, SESSION_COOKIE, UiSessions } from './sessions.js';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Who asks: a bearer token wins; otherwise the web UI's session cookie. A request authenticated by
 * cookie that changes state must carry the session's CSRF token in a header, which another site's
 * page cannot send (the cookie is also SameSite=Strict). An unknown or expired cookie counts as
 * nobody, so the UI can show its sign-in form.
 */
export async function authenticateRequest(ctx: ServerContext, request: FastifyRequest): Promise<Principal> {
  const authorization = request.headers.authorization;
  if (authorization !== undefined && authorization !== '') return ctx.access.authenticate(authorization);
  const cookie = readCookie(request.headers.cookie, SESSION_COOKIE);
  if (!cookie) return ANONYMOUS;
  const user = await ctx.sessions.authenticate(cookie);
  if (!user) return ANONYMOUS;
  if (!SAFE_METHODS.has(request.method) && request.headers[CSRF_HEADER] !== UiSessions.csrfFor(cookie))
    throw new AppError(
      'PermissionDenied',
      `a request signed in by the session cookie must send the session's CSRF token in the ${CSRF_HEADER} header (GET /session gives it)`,
    );
  return { user };
}
