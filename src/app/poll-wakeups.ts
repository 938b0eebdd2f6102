/** A worker's held poll, as far as wake-ups go. */
export interface Poller {
  tags: readonly string[];
  /** The worker takes tasks whose runs_on names no worker tag (embedded workers, `--untagged`). */
  untagged?: boolean;
  /** Tasks the worker runs now (a cancel of one of them wakes it). */
  tasks: readonly string[];
}

interface Waiter {
  tags: Set<string>;
  untagged: boolean;
  tasks: Set<string>;
  wake: () => void;
}

/**
 * The held polls of this server, woken by what concerns each of them: a task queued that it may
 * take (the claim rules of ports/worker-store.ts: every tag of the task among the worker's, or no
 * tags and the worker takes untagged tasks), or a cancel of one of its tasks.
 */
export class PollWakeups {
  private readonly waiters = new Set<Waiter>();

  /** Waits until `ms` passed, the signal fired, or a wake-up concerns this poller. */
  wait(ms: number, signal: AbortSignal, poller: Poller): Promise<void> {
    return new Promise((resolve) => {
      const waiter: Waiter = {
        tags: new Set(poller.tags),
        untagged: poller.untagged === true,
        tasks: new Set(poller.tasks),
        wake: () => {
          clearTimeout(timer);
          this.waiters.delete(waiter);
          signal.removeEventListener('abort', waiter.wake);
          resolve();
        },
      };
      const timer = setTimeout(waiter.wake, ms);
      this.waiters.add(waiter);
      signal.addEventListener('abort', waiter.wake);
    });
  }

  /** Wakes the polls that may claim one of the `queued` tag sets or run one of the `canceled` tasks. */
  wake(queued: readonly (readonly string[])[], canceled: ReadonlySet<string>): void {
    if (queued.length === 0 && canceled.size === 0) return;
    for (const waiter of [...this.waiters]) {
      const takes = (tags: readonly string[]) =>
        tags.length === 0 ? waiter.untagged : tags.every((tag) => waiter.tags.has(tag));
      if ([...waiter.tasks].some((t) => canceled.has(t)) || queued.some(takes)) waiter.wake();
    }
  }

  /** Wakes every held poll (the server stops; the database link is back). */
  wakeAll(): void {
    for (const waiter of [...this.waiters]) waiter.wake();
  }
}
