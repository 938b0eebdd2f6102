import type { Kysely } from 'kysely';
import type { SessionStore, UiSession } from '../ports/session-store.js';
import type { Database } from './schema.js';

/** `SessionStore` over Kysely (SQLite and PostgreSQL). */
export class SqlSessionStore implements SessionStore {
  constructor(private readonly db: Kysely<Database>) {}

  async insertSession(s: UiSession): Promise<void> {
    await this.db
      .insertInto('ui_sessions')
      .values({
        token_hash: s.tokenHash,
        user_id: s.userId,
        token_id: s.tokenId,
        created_at: s.createdAt,
        expires_at: s.expiresAt,
      })
      .execute();
  }

  async findSession(tokenHash: string): Promise<UiSession | undefined> {
    const row = await this.db
      .selectFrom('ui_sessions')
      .selectAll()
      .where('token_hash', '=', tokenHash)
      .executeTakeFirst();
    return (
      row && {
        tokenHash: row.token_hash,
        userId: row.user_id,
        tokenId: row.token_id,
        createdAt: Number(row.created_at),
        expiresAt: Number(row.expires_at),
      }
    );
  }

  async deleteSession(tokenHash: string): Promise<void> {
    await this.db.deleteFrom('ui_sessions').where('token_hash', '=', tokenHash).execute();
  }

  async deleteExpired(now: number): Promise<number> {
    const res = await this.db.deleteFrom('ui_sessions').where('expires_at', '<', now).executeTakeFirst();
    return Number(res.numDeletedRows);
  }
}
