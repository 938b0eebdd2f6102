import { withoutCredentials } from '../core/run/redact.js';
import type { Org, Repo, TokenRecord, User } from '../ports/directory-store.js';

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

export function userJson(user: User) {
  return {
    id: user.id,
    slug: user.slug,
    email: user.email,
    first_name: user.firstName,
    last_name: user.lastName,
    admin: user.admin,
  };
}

export function tokenJson(token: TokenRecord) {
  return {
    id: token.id,
    note: token.note,
    created_at: iso(token.createdAt),
    ...(token.expiresAt !== undefined ? { expires_at: iso(token.expiresAt) } : {}),
    ...(token.revokedAt !== undefined ? { revoked_at: iso(token.revokedAt) } : {}),
  };
}

export function orgJson(org: Org) {
  return { id: org.id, slug: org.slug, name: org.name };
}

export { withoutCredentials };

/** SourceCraft's `Repository`, with Conveyor's `clone_url` (a plain string there is an object) fields. */
export function repoJson(repo: Repo) {
  return {
    id: repo.id,
    name: repo.name,
    slug: repo.slug,
    description: repo.description,
    visibility: repo.visibility,
    default_branch: repo.defaultBranch,
    organization: { id: repo.orgId, slug: repo.orgSlug },
    clone_url: { https: withoutCredentials(repo.cloneUrl), ssh: '' },
    source_url: withoutCredentials(repo.cloneUrl),
    poll_interval_seconds: repo.pollIntervalMs / 1000,
  };
}
