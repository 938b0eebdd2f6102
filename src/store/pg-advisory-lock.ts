import pg from 'pg';
import type { LeaderLock } from '../ports/leader-lock.js';

/** Both halves of the advisory lock key: 'Conv' and the trigger loop's number. */
export const TRIGGER_LOCK_KEY: [number, number] = [0x436f6e76, 1];
const TIMEOUT_MS = 5000;

/**
 * A PostgreSQL session-level advisory lock on a connection of its own (never one of the pool's, so
 * no other query can release it by ending a session). PostgreSQL frees it when the session ends:
 * when the holding process dies, its socket closes and the next replica to ask gets it. A holder
 * checks its connection (`select 1`) before each round, so one whose link broke stops within a
 * round; queries give up after 5 s rather than hang on a dead link.
 */
export class PgAdvisoryLock implements LeaderLock {
  private client: pg.Client | undefined;
  private held = false;

  constructor(
    private readonly url: string,
    private readonly key: [number, number],
    /** Shown as the connection's application_name (pg_stat_activity), so operators see the holder. */
    private readonly holderName: string,
    private readonly log: (message: string) => void,
  ) {}

  async hold(): Promise<boolean> {
    try {
      if (this.client && this.held) {
        await this.client.query('select 1');
        return true;
      }
      this.client ??= await this.connect();
      const { rows } = await this.client.query<{ ok: boolean }>(
        'select pg_try_advisory_lock($1, $2) as ok',
        this.key,
      );
      this.held = rows[0]?.ok === true;
      return this.held;
    } catch (error) {
      if (this.held) this.log(`lost the lock for schedules and polling: ${String(error)}`);
      this.drop();
      return false;
    }
  }

  async release(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.held = false;
    await client?.end().catch(() => undefined);
  }

  private async connect(): Promise<pg.Client> {
    const client = new pg.Client({
      connectionString: this.url,
      application_name: this.holderName.slice(0, 63),
      connectionTimeoutMillis: TIMEOUT_MS,
      query_timeout: TIMEOUT_MS,
      keepAlive: true,
    });
    client.on('error', () => {
      if (this.client === client) this.drop();
    });
    try {
      await client.connect();
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    return client;
  }

  private drop(): void {
    const client = this.client;
    this.client = undefined;
    this.held = false;
    void client?.end().catch(() => undefined);
  }
}
