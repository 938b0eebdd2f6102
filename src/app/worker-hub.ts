import type { Clock } from '../ports/clock.js';
import type { WorkerStore, WorkerTokenRecord } from '../ports/worker-store.js';
import { AppError } from './errors.js';
import { hashToken } from './secret-box.js';
import type { TaskDispatch } from './task-dispatch.js';
import type { OffsetLogAppender } from './task-logs.js';
import { TtlCache } from './ttl-cache.js';
import { WorkerPolls } from './worker-polls.js';

const TOKEN_CACHE_MS = 5000;

/**
 * The server's side of the worker protocol that is not HTTP: who a worker is (its token), and
 * (app/task-dispatch.ts) the tasks handed to workers.
 */
export class WorkerHub {
  private readonly tokens = new TtlCache<WorkerTokenRecord>(TOKEN_CACHE_MS);

  /** Set once the server stops: held polls answer at once. */
  closing = false;

  /** The token of this server's embedded workers (server/embedded-workers.ts), once they started. */
  embeddedTokenId: string | undefined;

  /** The polls held here: retried polls answered alike, and fast expiry of a dead worker. */
  readonly polls: WorkerPolls;

  constructor(
    readonly store: WorkerStore,
    private readonly clock: Clock,
    readonly dispatch: TaskDispatch,
    readonly appender: OffsetLogAppender,
    /** The bare mirror of a repository, served to workers over git smart HTTP. */
    readonly mirrorPath: (repoId: string) => string,
    /** See WorkerPolls: CONVEYOR_WORKER_GONE_MS (default 1.5 s, 0 = wait for the lease). */
    goneMs = 1500,
  ) {
    this.polls = new WorkerPolls({
      goneMs,
      clock,
      lastSeen: async (name) => (await store.listWorkers()).find((w) => w.name === name)?.lastSeenAt,
      expire: (name, why) => dispatch.expireWorker(name, why),
      log: dispatch.o.log,
    });
  }

  stop(): void {
    this.closing = true;
    this.polls.stop();
    this.dispatch.stop();
  }

  forgetTokens(): void {
    this.tokens.clear();
  }

  /** The worker token of an `Authorization: Bearer` header; 401 when it is not a live worker token. */
  async authenticate(authorization: string | undefined): Promise<WorkerTokenRecord> {
    const match = /^Bearer\s+(\S+)$/i.exec((authorization ?? '').trim());
    if (!match?.[1]) throw new AppError('Unauthenticated', 'send "Authorization: Bearer <worker token>"');
    const hash = hashToken(match[1]);
    const now = this.clock.now();
    let token = this.tokens.get(hash, now);
    if (!token) {
      token = await this.store.findTokenByHash(hash);
      if (token) this.tokens.set(hash, token, now);
    }
    if (!token || token.revokedAt !== undefined)
      throw new AppError(
        'Unauthenticated',
        'the worker token is unknown or revoked; create one with `conveyor workers tokens create`',
      );
    return token;
  }
}
