/** Hears the topics published on one channel (store/local-notifier.ts, store/pg-notifier.ts). */
export interface NotifyListener {
  /** Topics published on the channel since the last call: deduplicated, in no particular order. */
  onTopics(topics: readonly string[]): void;
  /**
   * Messages may have been lost (the listening connection was re-established after an outage):
   * re-read whatever the listener waits for.
   */
  onGap?(): void;
}

/**
 * Wake-ups inside one server and between replicas: a publisher names a channel and a topic (a
 * short string such as `t:<task id>`); every subscriber of the channel on every replica hears it
 * within milliseconds. Publications are coalesced per tick (one message per channel carries every
 * topic of that tick), and they are hints: what they point at is always read from the store, and
 * subscribers keep a slow backstop of their own.
 *
 * Contract: a topic published here reaches this process's subscribers even when the database is
 * unreachable; other replicas may miss it (then their `onGap` fires once the link is back).
 */
export interface Notifier {
  publish(channel: string, topic: string): void;
  subscribe(channel: string, listener: NotifyListener): () => void;
  close(): Promise<void>;
}
