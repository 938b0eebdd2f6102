/**
 * The worker's half of fast expiry (docs/workers.md, "Leases and fencing"). The server takes a
 * worker whose held poll's connection closed, and that polls no more within `gone_ms`, as dead and
 * hands its tasks on. A live worker can get there too: a proxy or a broken link closed the
 * connection and the next poll cannot get through. So when a poll fails, the worker polls again at
 * once (with `wait_ms: 0`, answered at once), and if no poll is answered within half of `gone_ms`
 * it stops its tasks itself, before the server can give them to another worker.
 *
 * One exception: with a single server, a refused connection means no process listens there any
 * more, so the one that saw the close (and counts) is gone; a restarted server knows nothing of it.
 */
export class PollWatch {
  private timer: NodeJS.Timeout | undefined;
  /** The server's `gone_ms` (from the registration); 0: the server waits for the lease. */
  goneMs = 0;

  constructor(
    private readonly o: {
      singleServer: boolean;
      /** Stops every task this worker runs. */
      fenceAll: (why: string) => void;
    },
  ) {}

  /** A poll failed: the server may have seen its connection close. */
  broke(error: unknown): void {
    if (this.o.singleServer && refused(error)) return this.answered();
    if (this.goneMs <= 0 || this.timer) return;
    const ms = Math.round(this.goneMs / 2);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.o.fenceAll(
        `no poll got through within ${ms} ms after a poll's connection broke, so the server may hand the task on`,
      );
    }, ms);
  }

  /** While counting down, polls are retried every 50 ms: one must get through in time. */
  get counting(): boolean {
    return this.timer !== undefined;
  }

  /** A poll was answered: the server knows this worker is alive. */
  answered(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  stop(): void {
    this.answered();
  }
}

function refused(error: unknown): boolean {
  const cause = error instanceof Error ? (error.cause as NodeJS.ErrnoException | undefined) : undefined;
  return cause?.code === 'ECONNREFUSED';
}
