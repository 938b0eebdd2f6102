import type { Clock } from '../ports/clock.js';
import {
  REPO_ROLES,
  type DirectoryStore,
  type Repo,
  type RepoRole,
  type TokenRecord,
  type User,
} from '../ports/directory-store.js';
import { AppError, denied, notFound } from './errors.js';
import { hashToken } from './secret-box.js';
import { TtlCache } from './ttl-cache.js';

const CACHE_MS = 5000;

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
  /**
   * What every request reads, cached for CACHE_MS: tokens by hash, repositories by slug, roles.
   * Changes made through this server clear the caches at once; another replica's changes (a
   * revoked token, a removed role) take effect here within CACHE_MS.
   */
  private readonly tokens = new TtlCache<{ token: TokenRecord; user: User }>(CACHE_MS);
  private readonly repos = new TtlCache<Repo>(CACHE_MS);
  private readonly roles = new TtlCache<RepoRole | 'reader' | 'none'>(CACHE_MS);

  constructor(
    private readonly directory: DirectoryStore,
    private readonly clock: Clock,
  ) {}

  /** Drops every cached token, repository and role (after revocations and role changes). */
  forget(): void {
    this.tokens.clear();
    this.repos.clear();
    this.roles.clear();
  }

  /** A repository by slugs, through the cache. */
  async findRepo(orgSlug: string, slug: string): Promise<Repo | undefined> {
    const key = `${orgSlug}/${slug}`;
    const now = this.clock.now();
    const cached = this.repos.get(key, now);
    if (cached) return cached;
    const repo = await this.directory.findRepo(orgSlug, slug);
    if (repo) this.repos.set(key, repo, now);
    return repo;
  }

  async authenticate(authorization: string | undefined): Promise<Principal> {
    if (authorization === undefined || authorization === '') return ANONYMOUS;
    const match = /^Bearer\s+(\S+)$/i.exec(authorization.trim());
    if (!match?.[1])
      throw new AppError('Unauthenticated', 'the Authorization header must be "Bearer <token>"');
    const hash = hashToken(match[1]);
    const now = this.clock.now();
    let found = this.tokens.get(hash, now);
    if (!found) {
      const token = await this.directory.findTokenByHash(hash);
      const user = token && (await this.directory.findUserById(token.userId));
      if (token && user) this.tokens.set(hash, (found = { token, user }), now);
    }
    const token = found?.token;
    if (
      !found ||
      !token ||
      token.revokedAt !== undefined ||
      (token.expiresAt !== undefined && token.expiresAt <= now)
    )
      throw new AppError('Unauthenticated', 'the token is unknown, revoked or expired; create a new one');
    return { user: found.user };
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
    const key = `${repo.id}:${principal.user?.id ?? ''}`;
    const now = this.clock.now();
    const cached = this.roles.get(key, now);
    if (cached) return cached === 'none' ? undefined : cached;
    const role = await this.lookUpRole(principal, repo);
    this.roles.set(key, role ?? 'none', now);
    return role;
  }

  private async lookUpRole(principal: Principal, repo: Repo): Promise<RepoRole | 'reader' | undefined> {
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
   * The repository, if the caller holds at least `needed` on it (`reader`: may read it at all);
   * 404 when it may not even read it.
   */
  async repo(
    principal: Principal,
    repo: Repo | undefined,
    needed: RepoRole | 'reader',
    label: string,
  ): Promise<Repo> {
    const role = repo ? await this.roleOn(principal, repo) : undefined;
    if (!repo || role === undefined) throw notFound(`repository ${label} not found`);
    if (rank(role) < rank(needed)) {
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
