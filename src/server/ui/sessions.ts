import { randomBytes } from 'node:crypto';
import { AppError } from '../../app/errors.js';
import { hashToken } from '../../app/secret-box.js';
import type { Clock } from '../../ports/clock.js';
import type { DirectoryStore, User } from '../../ports/directory-store.js';
import type { SessionStore } from '../../ports/session-store.js';

export const SESSION_COOKIE = 'conveyor_session';
export const CSRF_HEADER = 'x-conveyor-csrf';
/** A session lasts this long from sign-in; the user signs in again afterwards. */
export const SESSION_TTL_MS = 7 * 24 * 3600 * 1000;

export interface SignedIn {
  user: User;
  /** The cookie's value: shown to the browser once, stored only hashed. */
  token: string;
  csrf: string;
  expiresAt: number;
}

/**
 * Web UI sessions: a personal access token is exchanged for a random session value sent as an
 * HttpOnly cookie. The CSRF token is derived from the session value (so it needs no storage and
 * cannot be computed without the cookie, which scripts cannot read); state-changing requests that
 * authenticate by cookie must send it in `x-conveyor-csrf`. Revoking the personal access token, or
 * signing out, ends the session at once on this replica (each request re-reads the store).
 */
export class UiSessions {
  constructor(
    private readonly store: SessionStore,
    private readonly directory: DirectoryStore,
    private readonly clock: Clock,
  ) {}

  static csrfFor(sessionToken: string): string {
    return hashToken(`csrf:${sessionToken}`).slice(0, 43);
  }

  async signIn(personalToken: string): Promise<SignedIn> {
    const token = personalToken.trim()
      ? await this.directory.findTokenByHash(hashToken(personalToken.trim()))
      : undefined;
    const now = this.clock.now();
    const user = token && (await this.directory.findUserById(token.userId));
    if (
      !token ||
      !user ||
      token.revokedAt !== undefined ||
      (token.expiresAt !== undefined && token.expiresAt <= now)
    )
      throw new AppError(
        'Unauthenticated',
        'this personal access token is unknown, revoked or expired; create a new one with `conveyor tokens create`',
      );
    const value = randomBytes(32).toString('base64url');
    const expiresAt = Math.min(now + SESSION_TTL_MS, token.expiresAt ?? Number.MAX_SAFE_INTEGER);
    await this.store.insertSession({
      tokenHash: hashToken(value),
      userId: user.id,
      tokenId: token.id,
      createdAt: now,
      expiresAt,
    });
    await this.store.deleteExpired(now).catch(() => 0);
    return { user, token: value, csrf: UiSessions.csrfFor(value), expiresAt };
  }

  /** The user a session cookie names, or undefined when it is unknown, expired or its token revoked. */
  async authenticate(sessionToken: string): Promise<User | undefined> {
    const session = await this.store.findSession(hashToken(sessionToken));
    const now = this.clock.now();
    if (!session || session.expiresAt <= now) return undefined;
    const token = (await this.directory.listTokens(session.userId)).find((t) => t.id === session.tokenId);
    if (!token || token.revokedAt !== undefined || (token.expiresAt !== undefined && token.expiresAt <= now))
      return undefined;
    return this.directory.findUserById(session.userId);
  }

  async signOut(sessionToken: string): Promise<void> {
    await this.store.deleteSession(hashToken(sessionToken));
  }
}

/** The value of one cookie in a Cookie header. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return undefined;
}
