import type { Clock } from '../ports/clock.js';

/** The answer of a poll (message 2 of docs/workers.md), as this file needs it. */
export interface PollAnswer {
  task: { task_id: string; epoch: number } | null;
  cancel: { task_id: string; reason: string }[];
}

export interface WorkerPollsOptions {
  /**
   * A worker whose held poll's connection closed and that polls no more within this long is taken
   * as dead (CONVEYOR_WORKER_GONE_MS, default 1.5 s; 0 turns it off): its leases expire now.
   */
  goneMs: number;
  clock: Clock;
  /** When the store last saw the worker (a poll on another replica counts). */
  lastSeen(name: string): Promise<number | undefined>;
  /** Ends the worker's leases now, as if they had run out. */
  expire(name: string, why: string): Promise<void>;
  log: (message: string) => void;
}

interface PerWorker {
  /** Polls begun here (a sequence) and polls held here now. */
  begun: number;
  held: number;
  /** Aborts the worker's poll held here: a newer one replaces it. */
  current?: AbortController;
  /** The last answer that carried a task, for a retry of the same poll whose answer was lost. */
  last?: { pollId: string; answer: PollAnswer };
  timer?: NodeJS.Timeout;
}

/** One held poll, from its start to its answer. */
export interface HeldPoll {
  /** Fires when a newer poll of the same worker began here (this one is stale). */
  signal: AbortSignal;
  /** The answer the same poll (same `poll_id`) got before: it was lost on the way. */
  replay: PollAnswer | undefined;
  /** Remembers an answer that carries a task, so a retry of this poll gets the same one. */
  answered(answer: PollAnswer): PollAnswer;
  /** The poll ended; `closed`: its connection closed before the answer was written. */
  end(closed: boolean): void;
}

/**
 * The polls workers hold on this server. Two jobs:
 *
 * - A retried poll is idempotent: a worker sends the same `poll_id` until it got an answer, so a
 *   task handed out in an answer that never arrived is handed out again (same lease, same token)
 *   instead of waiting for its lease to run out.
 * - Fast expiry: a killed worker's sockets are closed by its kernel (FIN/RST), unlike a silent cut.
 *   A held poll whose connection closes, from a worker that polls no more within `goneMs`, means
 *   the worker is gone: its leases expire at once (docs/workers.md, "Leases and fencing").
 */
export class WorkerPolls {
  private readonly workers = new Map<string, PerWorker>();

  constructor(private readonly o: WorkerPollsOptions) {}

  get goneMs(): number {
    return this.o.goneMs;
  }

  begin(name: string, pollId: string | undefined): HeldPoll {
    let w = this.workers.get(name);
    if (!w) this.workers.set(name, (w = { begun: 0, held: 0 }));
    const state = w;
    state.begun++;
    state.held++;
    state.current?.abort();
    const mine = new AbortController();
    state.current = mine;
    const replay = pollId !== undefined && state.last?.pollId === pollId ? state.last.answer : undefined;
    if (state.last && state.last.pollId !== pollId) state.last = undefined;
    let ended = false;
    return {
      signal: mine.signal,
      replay,
      answered: (answer) => {
        if (pollId !== undefined && answer.task) state.last = { pollId, answer };
        return answer;
      },
      end: (closed) => {
        if (ended) return;
        ended = true;
        state.held--;
        if (state.current === mine) state.current = undefined;
        // A poll replaced by a newer one is not a sign of death: the worker is polling.
        if (closed && !mine.signal.aborted && this.o.goneMs > 0) this.suspect(name, state);
      },
    };
  }

  stop(): void {
    for (const w of this.workers.values()) clearTimeout(w.timer);
  }

  private suspect(name: string, w: PerWorker): void {
    const begun = w.begun;
    const closedAt = this.o.clock.now();
    clearTimeout(w.timer);
    w.timer = setTimeout(() => void this.check(name, w, begun, closedAt), this.o.goneMs);
    w.timer.unref();
  }

  private async check(name: string, w: PerWorker, begun: number, closedAt: number): Promise<void> {
    w.timer = undefined;
    if (w.begun !== begun || w.held > 0) return;
    try {
      if (((await this.o.lastSeen(name)) ?? 0) > closedAt) return;
      const seconds = (this.o.goneMs / 1000).toFixed(1).replace(/\.0$/, '');
      await this.o.expire(name, `its connection closed and it did not poll again within ${seconds} s`);
    } catch (error) {
      this.o.log(`worker ${name}: the early expiry failed (the lease still runs out): ${String(error)}`);
    }
  }
}
