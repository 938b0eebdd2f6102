import type { Kysely, Migration } from 'kysely';

/** Migrations of the security issue (numbers 0020-0029). Never edit a released one. */
export const SECURITY_MIGRATIONS: Record<string, Migration> = {
  /** Webhook deliveries seen, by the digest of their signed body: a replay starts nothing (D12). */
  '0020_webhook_deliveries': {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('webhook_deliveries')
        .addColumn('repo_id', 'text', (c) => c.notNull())
        .addColumn('body_sha256', 'text', (c) => c.notNull())
        .addColumn('delivery_id', 'text', (c) => c.notNull())
        .addColumn('received_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('webhook_deliveries_pk', ['repo_id', 'body_sha256'])
        .execute();
    },
  },
};

/** Table types of these migrations, for schema.ts. */
export interface SecurityTables {
  webhook_deliveries: {
    repo_id: string;
    body_sha256: string;
    delivery_id: string;
    received_at: number;
  };
}
