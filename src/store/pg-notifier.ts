import { randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import pg from 'pg';
import { LocalNotifier } from './local-notifier.js';
import type { Notifier, NotifyListener } from '../ports/notifier.js';

/** PostgreSQL refuses NOTIFY payloads from 8000 bytes on; a batch is split below that. */
const PAYLOAD_LIMIT = 7000;
const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 2000;

interface Message {
  /** The replica that sent it: its own messages were delivered locally already. */
  o: string;
  t: string[];
}

/**
 * The notifier of replicas on one PostgreSQL database: LISTEN on a dedicated connection (not one
 * of the pool's), which reconnects by itself (100 ms doubling to 2 s) and then reports a gap;
 * NOTIFY through the pool, one statement per channel per coalesced batch, outside any transaction
 * (a NOTIFY serializes commits, so never one per log chunk or heartbeat: the research notes why).
 */
export class PgNotifier implements Notifier {
  private readonly origin = randomUUID();
  private readonly local: LocalNotifier;
  private client: pg.Client | undefined;
  private readonly listening = new Set<string>();
  private closed = false;
  private retryMs = RETRY_MIN_MS;
  private retryTimer: NodeJS.Timeout | undefined;
  private connecting: Promise<void> | undefined;
  private readonly dead = new WeakSet<pg.Client>();

  constructor(
    private readonly url: string,
    private readonly db: Kysely<unknown>,
    private readonly log: (message: string) => void,
  ) {
    this.local = new LocalNotifier((channel, topics) => this.send(channel, topics));
  }

  /** Connects the listening connection; resolves once it listens (or has failed once and retries). */
  start(): Promise<void> {
    return (this.connecting ??= this.connect());
  }

  publish(channel: string, topic: string): void {
    this.local.publish(channel, topic);
  }

  subscribe(channel: string, listener: NotifyListener): () => void {
    const off = this.local.subscribe(channel, listener);
    const client = this.client;
    if (client && !this.listening.has(channel))
      // A failed LISTEN drops the connection's channel; the reconnect listens to every channel again.
      this.listen(client, channel).catch(() => {
        this.listening.delete(channel);
        this.lost(client);
      });
    return off;
  }

  private async connect(): Promise<void> {
    // keepAlive: a half-open connection (a NAT or firewall dropped it) is noticed, then reconnected.
    const client = new pg.Client({ connectionString: this.url, keepAlive: true });
    client.on('error', () => this.lost(client));
    client.on('end', () => this.lost(client));
    client.on('notification', (n) => this.received(n.channel, n.payload));
    try {
      await client.connect();
      this.listening.clear();
      for (const channel of this.local.channels()) await this.listen(client, channel);
      if (this.closed) {
        await client.end();
        return;
      }
      const reconnected = this.client === undefined && this.retryMs > RETRY_MIN_MS;
      this.client = client;
      this.retryMs = RETRY_MIN_MS;
      if (reconnected) {
        this.log('notifications: listening again');
        this.local.gap();
      }
    } catch (error) {
      this.lost(client, error);
    } finally {
      this.connecting = undefined;
    }
  }

  private async listen(client: pg.Client, channel: string): Promise<void> {
    this.listening.add(channel);
    await client.query(`LISTEN "${channel.replace(/"/g, '""')}"`);
  }

  private lost(client: pg.Client, error?: unknown): void {
    if (this.dead.has(client)) return;
    this.dead.add(client);
    if (this.client === client) this.client = undefined;
    void client.end().catch(() => undefined);
    if (this.closed || this.retryTimer) return;
    if (this.retryMs === RETRY_MIN_MS)
      this.log(
        `notifications: the listening connection was lost (${error instanceof Error ? error.message : 'ended'}); reconnecting`,
      );
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.start();
    }, this.retryMs);
    this.retryTimer.unref();
    this.retryMs = Math.min(RETRY_MAX_MS, this.retryMs * 2);
  }

  private received(channel: string, payload: string | undefined): void {
    let message: Message;
    try {
      message = JSON.parse(payload ?? '') as Message;
    } catch {
      return;
    }
    if (message.o === this.origin || !Array.isArray(message.t)) return;
    this.local.deliver(channel, message.t);
  }

  /** One NOTIFY per channel and batch (split when the payload would be too long). */
  private send(channel: string, topics: string[]): void {
    const batches: string[][] = [[]];
    let size = 0;
    for (const topic of topics) {
      if (size + topic.length + 3 > PAYLOAD_LIMIT && (batches.at(-1)?.length ?? 0) > 0) {
        batches.push([]);
        size = 0;
      }
      batches.at(-1)?.push(topic);
      size += topic.length + 3;
    }
    for (const t of batches) {
      const payload = JSON.stringify({ o: this.origin, t } satisfies Message);
      // A lost NOTIFY (database down) is covered by the listeners' backstops and gap handling.
      void sql`select pg_notify(${channel}, ${payload})`.execute(this.db).catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    await this.local.close();
    await this.connecting;
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }
}
