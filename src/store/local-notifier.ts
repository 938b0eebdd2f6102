import type { Notifier, NotifyListener } from '../ports/notifier.js';

/** Publications closer together than this share one delivery (and one NOTIFY on PostgreSQL). */
const COALESCE_MS = 5;

/**
 * The in-process notifier (one server on SQLite), also the local half of the PostgreSQL one:
 * topics published in one tick (or within COALESCE_MS of the last delivery) are delivered together.
 */
export class LocalNotifier implements Notifier {
  private readonly listeners = new Map<string, Set<NotifyListener>>();
  private readonly pending = new Map<string, Set<string>>();
  private timer: NodeJS.Timeout | NodeJS.Immediate | undefined;
  private lastFlush = 0;
  private closed = false;

  /** `forward` sends a flushed batch elsewhere (to the other replicas). */
  constructor(private readonly forward?: (channel: string, topics: string[]) => void) {}

  publish(channel: string, topic: string): void {
    if (this.closed) return;
    let topics = this.pending.get(channel);
    if (!topics) this.pending.set(channel, (topics = new Set()));
    topics.add(topic);
    if (this.timer) return;
    const wait = this.lastFlush + COALESCE_MS - Date.now();
    this.timer = wait > 0 ? setTimeout(() => this.flush(), wait) : setImmediate(() => this.flush());
  }

  subscribe(channel: string, listener: NotifyListener): () => void {
    let set = this.listeners.get(channel);
    if (!set) this.listeners.set(channel, (set = new Set()));
    set.add(listener);
    return () => set.delete(listener);
  }

  channels(): string[] {
    return [...this.listeners.keys()];
  }

  /** Delivers topics to this process's listeners of `channel`. */
  deliver(channel: string, topics: readonly string[]): void {
    for (const listener of [...(this.listeners.get(channel) ?? [])]) listener.onTopics(topics);
  }

  /** Tells every listener that messages may have been lost. */
  gap(): void {
    for (const set of this.listeners.values()) for (const listener of [...set]) listener.onGap?.();
  }

  private flush(): void {
    this.timer = undefined;
    this.lastFlush = Date.now();
    const batch = [...this.pending];
    this.pending.clear();
    for (const [channel, topics] of batch) {
      const list = [...topics];
      this.forward?.(channel, list);
      this.deliver(channel, list);
    }
  }

  close(): Promise<void> {
    this.closed = true;
    if (this.timer) {
      clearTimeout(this.timer as NodeJS.Timeout);
      clearImmediate(this.timer as NodeJS.Immediate);
    }
    this.pending.clear();
    return Promise.resolve();
  }
}
