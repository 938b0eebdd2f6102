import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { RunStatus } from '../core/run/status.js';
import type { Notifier } from '../ports/notifier.js';
import type { NodeKind } from './run-engine.js';

export type RunEvent =
  | { type: 'status'; kind: NodeKind; path: string[]; status: RunStatus; at: number }
  | { type: 'output'; path: string[]; text: string; at: number }
  /** Another replica wrote to the run (state or log): read it again from the store. */
  | { type: 'changed' };

/** The notifier channel of run changes; a topic is `<origin> <run id>`. */
const CHANNEL = 'runs';
/** A run's changes are announced to the other replicas at most this often (one NOTIFY per batch). */
const SHARE_MS = 50;

/**
 * What runs are doing, for live streams (server-sent events) and live views. A subscriber sees
 * events from the moment it subscribes; it reads what came before from the store.
 *
 * Connected to a notifier (`share`), each committed write and each stored log chunk reaches the
 * other replicas as a `changed` wake-up, at most one per run every SHARE_MS: a stream on any
 * replica follows a run whichever replica executes it or received its worker's log.
 */
export class RunEvents {
  private readonly emitter = new EventEmitter();
  private readonly origin = randomUUID().slice(0, 8);
  private notifier: Notifier | undefined;
  private readonly unshared = new Set<string>();
  private timer: NodeJS.Timeout | undefined;

  /**
   * `backstopMs`: how often a stream re-reads the store when no event woke it (a missed wake-up
   * costs at most this; default 1 s).
   */
  constructor(readonly backstopMs = 1000) {
    this.emitter.setMaxListeners(0);
  }

  /** An event of this process; output (already stored when it is published) reaches the other replicas too. */
  publish(runId: string, event: RunEvent): void {
    this.emitter.emit(runId, event);
    if (event.type === 'output') this.committed(runId);
  }

  /**
   * A write of the run committed here: the other replicas are told. (Status events come from the
   * engine before its batched write lands, so they are shared from here, not from `publish`.)
   */
  committed(runId: string): void {
    if (!this.notifier) return;
    this.unshared.add(runId);
    this.timer ??= setTimeout(() => this.flush(), SHARE_MS);
  }

  subscribe(runId: string, listener: (event: RunEvent) => void): () => void {
    this.emitter.on(runId, listener);
    return () => this.emitter.off(runId, listener);
  }

  /**
   * Shares events with the other replicas through `notifier`. `changed` hears of each run another
   * replica changed; after a gap (notifications may have been lost) of every run, `runId` undefined.
   */
  share(notifier: Notifier, changed: (runId: string | undefined) => void): () => void {
    this.notifier = notifier;
    const off = notifier.subscribe(CHANNEL, {
      onTopics: (topics) => {
        for (const topic of topics) {
          const [origin, runId] = topic.split(' ');
          if (origin === this.origin || !runId) continue;
          changed(runId);
          this.emitter.emit(runId, { type: 'changed' });
        }
      },
      onGap: () => {
        changed(undefined);
        for (const runId of this.emitter.eventNames())
          if (typeof runId === 'string') this.emitter.emit(runId, { type: 'changed' });
      },
    });
    return () => {
      off();
      clearTimeout(this.timer);
      this.flush();
      this.notifier = undefined;
    };
  }

  private flush(): void {
    this.timer = undefined;
    for (const runId of this.unshared) this.notifier?.publish(CHANNEL, `${this.origin} ${runId}`);
    this.unshared.clear();
  }
}
