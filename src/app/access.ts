import type { Clock } from '../ports/clock.js';
import {
  REPO_ROLES,
  type DirectoryStore,
  type Repo,
  type RepoRole,
  type User,
} from '../ports/directory-store.js';
import { AppError, denied, notFound } from './errors.js';
import { hashToken } from './secret-box.js';

/** Who is asking: a user (authenticated by a token) or nobody. */
export type Principal = { user: User } | { user?: undefined };

export const ANONYMOUS: Principal = {};

/**
 * Authentication and the access rules (docs/api.md, "Access"):
 * - server administrators may do everything;
 * - an organization's admins are admins of all its repositories;
 * - otherwise a repository role (viewer < developer < maintainer < admin) grants what it names;
 * - public repositories are readable by anyone, internal ones by any signed-in user.
 * A repository the caller may not read is reported as not found, so its existence does not leak.
 */
export class Access {
  constructor(
    private readonly directory: DirectoryStore,
    private readonly clock: Clock,
  ) {}

  async authenticate(authorization: string | undefined): Promise<Principal> {
    if (authorization === undefined || authorization === '') return ANONYMOUS;
    const match = /^Bearer\s+(\S+)$/i.exec(authorization.trim());
    if (!match?.[1])
      throw new AppError('Unauthenticated', 'the Authorization header must be "Bearer <token>"');
    const token = await this.directory.findTokenByHash(hashToken(match[1]));
    const now = this.clock.now();
    if (!token || token.revokedAt !== undefined || (token.expiresAt !== undefined && token.expiresAt <= now))
      throw new AppError('Unauthenticated', 'the token is unknown, revoked or expired; create a new one');
    const user = await this.directory.findUserById(token.userId);
    if (!user) throw new AppError('Unauthenticated', 'the token belongs to a deleted user');
    return { user };
  }

  requireUser(principal: Principal): User {
    if (!principal.user)
      throw new AppError('Unauthenticated', 'sign in: send "Authorization: Bearer <token>"');
    return principal.user;
  }

  requireAdmin(principal: Principal): User {
    const user = this.requireUser(principal);
    if (!user.admin) throw denied('only server administrators may do this');
    return user;
  }

  /** The caller's effective role on a repository; 'reader' for public/internal visibility alone. */
  async roleOn(principal: Principal, repo: Repo): Promise<RepoRole | 'reader' | undefined> {
    const user = principal.user;
    if (user?.admin) return 'admin';
    if (user) {
      if ((await this.directory.orgRole(repo.orgId, user.id)) === 'admin') return 'admin';
      const role = await this.directory.repoRole(repo.id, user.id);
      if (role) return role;
      if (repo.visibility !== 'private') return 'reader';
      return undefined;
    }
    return repo.visibility === 'public' ? 'reader' : undefined;
  }

  /**
   * The repository, if the caller holds at least `needed` on it (or, with `readOnly`, may read it);
   * 404 when it may not even read it.
   */
  async repo(
    principal: Principal,
    repo: Repo | undefined,
    needed: RepoRole,
    label: string,
    readOnly = false,
  ): Promise<Repo> {
    const role = repo ? await this.roleOn(principal, repo) : undefined;
    if (!repo || role === undefined) throw notFound(`repository ${label} not found`);
    if (!readOnly && rank(role) < rank(needed)) {
      if (!principal.user) throw new AppError('Unauthenticated', `sign in to do this on ${label}`);
      throw denied(
        `this needs the ${needed} role on ${label}; you have ${role === 'reader' ? 'read access' : role}`,
      );
    }
    return repo;
  }
}

function rank(role: RepoRole | 'reader'): number {
  return role === 'reader' ? 0 : REPO_ROLES.indexOf(role);
}
