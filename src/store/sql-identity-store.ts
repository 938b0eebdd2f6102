import type { Kysely, Selectable } from 'kysely';
import type { IdentityStore, ServiceConnection, SigningKeyRecord } from '../ports/identity-store.js';
import type { Database, ServiceConnectionsTable } from './schema.js';
import { isUniqueViolation } from './sql-errors.js';

/** `IdentityStore` over Kysely (SQLite and PostgreSQL). */
export class SqlIdentityStore implements IdentityStore {
  constructor(private readonly db: Kysely<Database>) {}

  async putConnection(c: ServiceConnection): Promise<ServiceConnection> {
    const values = {
      audience: c.audience,
      service_account_id: c.serviceAccountId ?? null,
      folder_id: c.folderId ?? null,
      updated_at: c.updatedAt,
    };
    await this.db
      .insertInto('service_connections')
      .values({ scope: c.scope, scope_id: c.scopeId, name: c.name, created_at: c.createdAt, ...values })
      .onConflict((oc) => oc.columns(['scope', 'scope_id', 'name']).doUpdateSet(values))
      .execute();
    return (await this.getConnection(c.scope, c.scopeId, c.name)) ?? c;
  }

  async getConnection(scope: ServiceConnection['scope'], scopeId: string, name: string) {
    const row = await this.db
      .selectFrom('service_connections')
      .selectAll()
      .where('scope', '=', scope)
      .where('scope_id', '=', scopeId)
      .where('name', '=', name)
      .executeTakeFirst();
    return row && connectionFromRow(row);
  }

  async listConnections(scope: ServiceConnection['scope'], scopeId: string) {
    const rows = await this.db
      .selectFrom('service_connections')
      .selectAll()
      .where('scope', '=', scope)
      .where('scope_id', '=', scopeId)
      .orderBy('name')
      .execute();
    return rows.map(connectionFromRow);
  }

  async deleteConnection(scope: ServiceConnection['scope'], scopeId: string, name: string) {
    const res = await this.db
      .deleteFrom('service_connections')
      .where('scope', '=', scope)
      .where('scope_id', '=', scopeId)
      .where('name', '=', name)
      .executeTakeFirst();
    return Number(res.numDeletedRows) > 0;
  }

  async signingKeys(): Promise<SigningKeyRecord[]> {
    const rows = await this.db
      .selectFrom('oidc_signing_keys')
      .selectAll()
      .orderBy('generation', 'desc')
      .execute();
    return rows.map((r) => ({
      generation: Number(r.generation),
      kid: r.kid,
      alg: r.alg,
      publicJwk: r.public_jwk,
      privateEnc: r.private_enc,
      createdAt: Number(r.created_at),
    }));
  }

  async insertSigningKey(key: SigningKeyRecord): Promise<boolean> {
    try {
      const res = await this.db
        .insertInto('oidc_signing_keys')
        .values({
          generation: key.generation,
          kid: key.kid,
          alg: key.alg,
          public_jwk: key.publicJwk,
          private_enc: key.privateEnc,
          created_at: key.createdAt,
        })
        .onConflict((oc) => oc.column('generation').doNothing())
        .executeTakeFirst();
      return Number(res.numInsertedOrUpdatedRows ?? 0) > 0;
    } catch (error) {
      if (isUniqueViolation(error)) return false;
      throw error;
    }
  }

  async deleteSigningKeysBefore(generation: number): Promise<void> {
    await this.db.deleteFrom('oidc_signing_keys').where('generation', '<', generation).execute();
  }
}

function connectionFromRow(row: Selectable<ServiceConnectionsTable>): ServiceConnection {
  return {
    scope: row.scope as ServiceConnection['scope'],
    scopeId: row.scope_id,
    name: row.name,
    audience: row.audience,
    ...(row.service_account_id !== null ? { serviceAccountId: row.service_account_id } : {}),
    ...(row.folder_id !== null ? { folderId: row.folder_id } : {}),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}
