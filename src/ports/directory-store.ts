/** People, organizations, repositories, access and secrets: what the server knows besides runs. */

export type RepoRole = 'viewer' | 'contributor' | 'developer' | 'maintainer' | 'admin';
export const REPO_ROLES: readonly RepoRole[] = ['viewer', 'contributor', 'developer', 'maintainer', 'admin'];
export type Visibility = 'public' | 'internal' | 'private';

export interface User {
  id: string;
  slug: string;
  email: string;
  firstName: string;
  lastName: string;
  admin: boolean;
  createdAt: number;
}

export interface TokenRecord {
  id: string;
  userId: string;
  note: string;
  createdAt: number;
  expiresAt?: number;
  revokedAt?: number;
}

export interface Org {
  id: string;
  slug: string;
  name: string;
  createdAt: number;
}

export interface Repo {
  id: string;
  orgId: string;
  orgSlug: string;
  slug: string;
  name: string;
  description: string;
  visibility: Visibility;
  cloneUrl: string;
  defaultBranch: string;
  /** Polling interval for repositories without webhooks; 0 = no polling. */
  pollIntervalMs: number;
  /** Shared secret of GitHub signatures and GitLab tokens, encrypted like secrets. */
  webhookSecretEnc: string;
  createdAt: number;
}

export type SecretScope = 'repo' | 'org' | 'env';

/**
 * Contract:
 * - `insert*` throw `ConflictError` on a taken slug (or token hash), `get*` throw `NotFoundError`,
 *   `find*` return undefined. Slugs compare exactly (callers lower-case them).
 * - Tokens are stored by hash only; `findTokenByHash` returns revoked and expired tokens too, the
 *   caller decides.
 * - `claimScheduleSlot` returns true exactly once per (repo, rule, slot), across replicas.
 * - Secret values are stored as given (already encrypted by the caller).
 */
export interface DirectoryStore {
  /**
   * Records a webhook delivery by the digest of its body; false when that body was seen before
   * for the repository (a replay or a redelivery), so it starts nothing.
   */
  recordWebhookDelivery(repoId: string, bodySha256: string, deliveryId: string, at: number): Promise<boolean>;
  countUsers(): Promise<number>;
  insertUser(user: User): Promise<void>;
  findUserBySlug(slug: string): Promise<User | undefined>;
  findUserById(id: string): Promise<User | undefined>;
  listUsers(): Promise<User[]>;
  insertToken(token: TokenRecord, hash: string): Promise<void>;
  findTokenByHash(hash: string): Promise<TokenRecord | undefined>;
  listTokens(userId: string): Promise<TokenRecord[]>;
  revokeToken(userId: string, tokenId: string, at: number): Promise<boolean>;

  insertOrg(org: Org, creatorId: string): Promise<void>;
  findOrg(slug: string): Promise<Org | undefined>;
  /** Every organization, or with `memberId` only those the user has a role in; by slug. */
  listOrgs(memberId?: string): Promise<Org[]>;
  orgRole(orgId: string, userId: string): Promise<'admin' | 'member' | undefined>;

  insertRepo(repo: Repo): Promise<void>;
  findRepo(orgSlug: string, slug: string): Promise<Repo | undefined>;
  findRepoById(id: string): Promise<Repo | undefined>;
  listRepos(orgId: string): Promise<Repo[]>;
  listAllRepos(): Promise<Repo[]>;
  /** Stores the repository's changeable fields (name, description, visibility, clone URL, branch, poll). */
  updateRepo(repo: Repo): Promise<void>;
  /** Deletes the repository with its roles, secrets and trigger state (runs stay in their tables). */
  deleteRepo(repoId: string): Promise<void>;
  repoRole(repoId: string, userId: string): Promise<RepoRole | undefined>;
  setRepoRole(repoId: string, userId: string, role: RepoRole | undefined): Promise<void>;
  listRepoRoles(repoId: string): Promise<{ user: User; role: RepoRole }[]>;

  putSecret(scope: SecretScope, scopeId: string, name: string, encrypted: string, at: number): Promise<void>;
  deleteSecret(scope: SecretScope, scopeId: string, name: string): Promise<boolean>;
  listSecrets(scope: SecretScope, scopeId: string): Promise<{ name: string; updatedAt: number }[]>;
  secretValues(scope: SecretScope, scopeId: string): Promise<Record<string, string>>;

  claimScheduleSlot(repoId: string, ruleKey: string, slot: number): Promise<boolean>;
  getPollState(repoId: string): Promise<Record<string, string> | undefined>;
  setPollState(repoId: string, refs: Record<string, string>): Promise<void>;
}
