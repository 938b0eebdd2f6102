import type { Kysely } from 'kysely';
import { withoutCredentials } from '../core/run/redact.js';
import { ConflictError } from '../ports/errors.js';
import type {
  DirectoryStore,
  Org,
  Repo,
  RepoRole,
  SecretScope,
  TokenRecord,
  User,
  Visibility,
} from '../ports/directory-store.js';
import type { ReposTable, Database, TokensTable, UsersTable } from './schema.js';
import { isUniqueViolation } from './sql-errors.js';

/** `DirectoryStore` over Kysely (SQLite and PostgreSQL). */
export class SqlDirectoryStore implements DirectoryStore {
  /** `box` encrypts the credentials a `clone_url` may carry (D11); without it they are kept as given. */
  constructor(
    private readonly db: Kysely<Database>,
    private readonly box?: UrlBox,
  ) {}

  async countUsers(): Promise<number> {
    const row = await this.db
      .selectFrom('users')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async insertUser(user: User): Promise<void> {
    await conflictOnDuplicate(`user '${user.slug}' already exists`, () =>
      this.db
        .insertInto('users')
        .values({
          id: user.id,
          slug: user.slug,
          email: user.email,
          first_name: user.firstName,
          last_name: user.lastName,
          is_admin: user.admin ? 1 : 0,
          created_at: user.createdAt,
        })
        .execute(),
    );
  }

  async findUserBySlug(slug: string): Promise<User | undefined> {
    const row = await this.db.selectFrom('users').selectAll().where('slug', '=', slug).executeTakeFirst();
    return row && userFromRow(row);
  }

  async findUserById(id: string): Promise<User | undefined> {
    const row = await this.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
    return row && userFromRow(row);
  }

  async listUsers(): Promise<User[]> {
    return (await this.db.selectFrom('users').selectAll().orderBy('slug').execute()).map(userFromRow);
  }

  async insertToken(token: TokenRecord, hash: string): Promise<void> {
    await this.db
      .insertInto('tokens')
      .values({
        id: token.id,
        user_id: token.userId,
        hash,
        note: token.note,
        created_at: token.createdAt,
        expires_at: token.expiresAt ?? null,
        revoked_at: null,
      })
      .execute();
  }

  async findTokenByHash(hash: string): Promise<TokenRecord | undefined> {
    const row = await this.db.selectFrom('tokens').selectAll().where('hash', '=', hash).executeTakeFirst();
    return row && tokenFromRow(row);
  }

  async listTokens(userId: string): Promise<TokenRecord[]> {
    const rows = await this.db
      .selectFrom('tokens')
      .selectAll()
      .where('user_id', '=', userId)
      .orderBy('created_at')
      .execute();
    return rows.map(tokenFromRow);
  }

  async revokeToken(userId: string, tokenId: string, at: number): Promise<boolean> {
    const res = await this.db
      .updateTable('tokens')
      .set({ revoked_at: at })
      .where('id', '=', tokenId)
      .where('user_id', '=', userId)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return Number(res.numUpdatedRows) === 1;
  }

  async recordWebhookDelivery(
    repoId: string,
    bodySha256: string,
    deliveryId: string,
    at: number,
  ): Promise<boolean> {
    try {
      await this.db
        .insertInto('webhook_deliveries')
        .values({ repo_id: repoId, body_sha256: bodySha256, delivery_id: deliveryId, received_at: at })
        .execute();
      return true;
    } catch (error) {
      if (isUniqueViolation(error)) return false;
      throw error;
    }
  }

  async insertOrg(org: Org, creatorId: string): Promise<void> {
    await conflictOnDuplicate(`organization '${org.slug}' already exists`, () =>
      this.db.transaction().execute(async (trx) => {
        await trx
          .insertInto('orgs')
          .values({ id: org.id, slug: org.slug, name: org.name, created_at: org.createdAt })
          .execute();
        await trx
          .insertInto('org_roles')
          .values({ org_id: org.id, user_id: creatorId, role: 'admin' })
          .execute();
      }),
    );
  }

  async findOrg(slug: string): Promise<Org | undefined> {
    const row = await this.db.selectFrom('orgs').selectAll().where('slug', '=', slug).executeTakeFirst();
    return row && { id: row.id, slug: row.slug, name: row.name, createdAt: Number(row.created_at) };
  }

  async listOrgs(memberId?: string): Promise<Org[]> {
    let query = this.db.selectFrom('orgs').selectAll('orgs');
    if (memberId !== undefined)
      query = query.where('orgs.id', 'in', (eb) =>
        eb.selectFrom('org_roles').select('org_id').where('user_id', '=', memberId),
      );
    const rows = await query.orderBy('orgs.slug').execute();
    return rows.map((row) => ({
      id: row.id,
      slug: row.slug,
      name: row.name,
      createdAt: Number(row.created_at),
    }));
  }

  async orgRole(orgId: string, userId: string): Promise<'admin' | 'member' | undefined> {
    const row = await this.db
      .selectFrom('org_roles')
      .select('role')
      .where('org_id', '=', orgId)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    return row?.role === 'admin' ? 'admin' : row ? 'member' : undefined;
  }

  async insertRepo(repo: Repo): Promise<void> {
    await conflictOnDuplicate(`repository '${repo.orgSlug}/${repo.slug}' already exists`, () =>
      this.db
        .insertInto('repos')
        .values({
          id: repo.id,
          org_id: repo.orgId,
          slug: repo.slug,
          name: repo.name,
          description: repo.description,
          visibility: repo.visibility,
          clone_url: sealUrl(repo.cloneUrl, this.box),
          default_branch: repo.defaultBranch,
          poll_interval_ms: repo.pollIntervalMs,
          webhook_secret_enc: repo.webhookSecretEnc,
          created_at: repo.createdAt,
        })
        .execute(),
    );
  }

  private repoQuery() {
    return this.db
      .selectFrom('repos')
      .innerJoin('orgs', 'orgs.id', 'repos.org_id')
      .selectAll('repos')
      .select('orgs.slug as org_slug');
  }

  async findRepo(orgSlug: string, slug: string): Promise<Repo | undefined> {
    const row = await this.repoQuery()
      .where('orgs.slug', '=', orgSlug)
      .where('repos.slug', '=', slug)
      .executeTakeFirst();
    return row && repoFromRow(row, this.box);
  }

  async findRepoById(id: string): Promise<Repo | undefined> {
    const row = await this.repoQuery().where('repos.id', '=', id).executeTakeFirst();
    return row && repoFromRow(row, this.box);
  }

  async listRepos(orgId: string): Promise<Repo[]> {
    const rows = await this.repoQuery().where('repos.org_id', '=', orgId).orderBy('repos.slug').execute();
    return rows.map((row) => repoFromRow(row, this.box));
  }

  async listAllRepos(): Promise<Repo[]> {
    return (await this.repoQuery().orderBy('repos.created_at').execute()).map((row) =>
      repoFromRow(row, this.box),
    );
  }

  /** Encrypts credentials that clone URLs stored before they were encrypted still carry in the clear. */
  async sealStoredCredentials(): Promise<number> {
    if (!this.box) return 0;
    const rows = await this.db
      .selectFrom('repos')
      .select(['id', 'clone_url'])
      .where('clone_url', 'not like', `${SEALED}%`)
      .where('clone_url', 'like', '%@%')
      .execute();
    let sealed = 0;
    for (const row of rows) {
      const stored = sealUrl(row.clone_url, this.box);
      if (stored === row.clone_url) continue;
      await this.db.updateTable('repos').set({ clone_url: stored }).where('id', '=', row.id).execute();
      sealed++;
    }
    return sealed;
  }

  async updateRepo(repo: Repo): Promise<void> {
    await this.db
      .updateTable('repos')
      .set({
        name: repo.name,
        description: repo.description,
        visibility: repo.visibility,
        clone_url: sealUrl(repo.cloneUrl, this.box),
        default_branch: repo.defaultBranch,
        poll_interval_ms: repo.pollIntervalMs,
      })
      .where('id', '=', repo.id)
      .execute();
  }

  async deleteRepo(repoId: string): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('repo_roles').where('repo_id', '=', repoId).execute();
      await trx.deleteFrom('secrets').where('scope', '=', 'repo').where('scope_id', '=', repoId).execute();
      await trx.deleteFrom('poll_state').where('repo_id', '=', repoId).execute();
      await trx.deleteFrom('schedule_slots').where('repo_id', '=', repoId).execute();
      await trx.deleteFrom('repos').where('id', '=', repoId).execute();
    });
  }

  async repoRole(repoId: string, userId: string): Promise<RepoRole | undefined> {
    const row = await this.db
      .selectFrom('repo_roles')
      .select('role')
      .where('repo_id', '=', repoId)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    return row?.role as RepoRole | undefined;
  }

  async setRepoRole(repoId: string, userId: string, role: RepoRole | undefined): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx
        .deleteFrom('repo_roles')
        .where('repo_id', '=', repoId)
        .where('user_id', '=', userId)
        .execute();
      if (role)
        await trx.insertInto('repo_roles').values({ repo_id: repoId, user_id: userId, role }).execute();
    });
  }

  async listRepoRoles(repoId: string): Promise<{ user: User; role: RepoRole }[]> {
    const rows = await this.db
      .selectFrom('repo_roles')
      .innerJoin('users', 'users.id', 'repo_roles.user_id')
      .selectAll('users')
      .select('repo_roles.role')
      .where('repo_roles.repo_id', '=', repoId)
      .orderBy('users.slug')
      .execute();
    return rows.map((row) => ({ user: userFromRow(row), role: row.role as RepoRole }));
  }

  async putSecret(scope: SecretScope, scopeId: string, name: string, encrypted: string, at: number) {
    await this.db
      .insertInto('secrets')
      .values({ scope, scope_id: scopeId, name, value_enc: encrypted, updated_at: at })
      .onConflict((oc) =>
        oc.columns(['scope', 'scope_id', 'name']).doUpdateSet({ value_enc: encrypted, updated_at: at }),
      )
      .execute();
  }

  async deleteSecret(scope: SecretScope, scopeId: string, name: string): Promise<boolean> {
    const res = await this.db
      .deleteFrom('secrets')
      .where('scope', '=', scope)
      .where('scope_id', '=', scopeId)
      .where('name', '=', name)
      .executeTakeFirst();
    return Number(res.numDeletedRows) > 0;
  }

  async listSecrets(scope: SecretScope, scopeId: string): Promise<{ name: string; updatedAt: number }[]> {
    const rows = await this.db
      .selectFrom('secrets')
      .select(['name', 'updated_at'])
      .where('scope', '=', scope)
      .where('scope_id', '=', scopeId)
      .orderBy('name')
      .execute();
    return rows.map((r) => ({ name: r.name, updatedAt: Number(r.updated_at) }));
  }

  async secretValues(scope: SecretScope, scopeId: string): Promise<Record<string, string>> {
    const rows = await this.db
      .selectFrom('secrets')
      .select(['name', 'value_enc'])
      .where('scope', '=', scope)
      .where('scope_id', '=', scopeId)
      .execute();
    return Object.fromEntries(rows.map((r) => [r.name, r.value_enc]));
  }

  async claimScheduleSlot(repoId: string, ruleKey: string, slot: number): Promise<boolean> {
    const res = await this.db
      .insertInto('schedule_slots')
      .values({ repo_id: repoId, rule_key: ruleKey, slot })
      .onConflict((oc) => oc.doNothing())
      .executeTakeFirst();
    return Number(res.numInsertedOrUpdatedRows ?? 0) === 1;
  }

  async getPollState(repoId: string): Promise<Record<string, string> | undefined> {
    const row = await this.db
      .selectFrom('poll_state')
      .select('refs_json')
      .where('repo_id', '=', repoId)
      .executeTakeFirst();
    return row && (JSON.parse(row.refs_json) as Record<string, string>);
  }

  async setPollState(repoId: string, refs: Record<string, string>): Promise<void> {
    const refsJson = JSON.stringify(refs);
    await this.db
      .insertInto('poll_state')
      .values({ repo_id: repoId, refs_json: refsJson })
      .onConflict((oc) => oc.column('repo_id').doUpdateSet({ refs_json: refsJson }))
      .execute();
  }
}

async function conflictOnDuplicate(message: string, write: () => Promise<unknown>): Promise<void> {
  try {
    await write();
  } catch (error) {
    if (isUniqueViolation(error)) throw new ConflictError(message, { cause: error });
    throw error;
  }
}

function userFromRow(row: UsersTable): User {
  return {
    id: row.id,
    slug: row.slug,
    email: row.email,
    firstName: row.first_name,
    lastName: row.last_name,
    admin: Number(row.is_admin) === 1,
    createdAt: Number(row.created_at),
  };
}

function tokenFromRow(row: TokensTable): TokenRecord {
  return {
    id: row.id,
    userId: row.user_id,
    note: row.note,
    createdAt: Number(row.created_at),
    ...(row.expires_at !== null ? { expiresAt: Number(row.expires_at) } : {}),
    ...(row.revoked_at !== null ? { revokedAt: Number(row.revoked_at) } : {}),
  };
}

function repoFromRow(row: ReposTable & { org_slug: string }, box: UrlBox | undefined): Repo {
  return {
    id: row.id,
    orgId: row.org_id,
    orgSlug: row.org_slug,
    slug: row.slug,
    name: row.name,
    description: row.description,
    visibility: row.visibility as Visibility,
    cloneUrl: openUrl(row.clone_url, box),
    defaultBranch: row.default_branch,
    pollIntervalMs: Number(row.poll_interval_ms),
    webhookSecretEnc: row.webhook_secret_enc,
    createdAt: Number(row.created_at),
  };
}

/** What encrypts clone URL credentials: the server's SecretBox. */
export type UrlBox = { encrypt(plain: string): string; decrypt(stored: string): string };

/** A stored clone URL with credentials is `enc:` + the encrypted URL; others are kept readable. */
const SEALED = 'enc:';

function sealUrl(url: string, box: UrlBox | undefined): string {
  return box && withoutCredentials(url) !== url ? SEALED + box.encrypt(url) : url;
}

function openUrl(stored: string, box: UrlBox | undefined): string {
  if (!stored.startsWith(SEALED)) return stored;
  if (!box) throw new Error('this clone URL is encrypted; the server key is needed to read it');
  return box.decrypt(stored.slice(SEALED.length));
}
