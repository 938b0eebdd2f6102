import { LogChunkTakenError, type LogChunk, type LogChunkStore } from '../ports/log-chunk-store.js';
import type { LogSink } from '../ports/log-store.js';
import { NOTE_PREFIX } from './file-log-store.js';

/** A chunk row holds at most this much; a write this size is inserted at once. */
export const MAX_CHUNK_BYTES = 256 * 1024;

interface Pending {
  parts: Buffer[];
  length: number;
  at: number;
}

/**
 * A LogSink over database chunks. `write` is synchronous (the LogSink contract): it queues, and
 * the queue is inserted as one transaction after `flushMs` or once MAX_CHUNK_BYTES are queued.
 * Writes received in the same millisecond share a row, so each row's `at` is its receive time.
 * The first insert finds the log's end (a log opened again appends); a start taken meanwhile by
 * another writer finds it again. A failed insert is kept in `failure` and later writes are dropped.
 * The queue is not bounded: a database slower than a cube's output holds that output in memory.
 */
export class ChunkLogSink implements LogSink {
  failure?: string;
  private queue: Pending[] = [];
  private queued = 0;
  private offset: number | undefined;
  private chain: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private endsWithNewline = true;
  private closed = false;

  constructor(
    private readonly o: {
      chunks: LogChunkStore;
      runId: string;
      cubeId: string;
      /** The log's end wherever it is stored (a compacted object, then chunks). */
      end: () => Promise<number>;
      flushMs: number;
      /** Called once closed and every write is stored. */
      onDone: () => void;
    },
  ) {}

  write(chunk: Buffer, at: number): void {
    if (this.closed || this.failure !== undefined || chunk.length === 0) return;
    const copy = Buffer.from(chunk); // the caller may reuse its buffer
    const last = this.queue[this.queue.length - 1];
    if (last && last.at === at && last.length + copy.length <= MAX_CHUNK_BYTES) {
      last.parts.push(copy);
      last.length += copy.length;
    } else this.queue.push({ parts: [copy], length: copy.length, at });
    this.queued += copy.length;
    this.endsWithNewline = copy[copy.length - 1] === 10;
    if (this.queued >= MAX_CHUNK_BYTES) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.o.flushMs);
  }

  note(text: string, at: number): void {
    this.write(Buffer.from(`${this.endsWithNewline ? '' : '\n'}${NOTE_PREFIX}${text}\n`), at);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    void this.stored().then(() => this.o.onDone());
  }

  /** Resolves once everything written so far is committed (or `failure` is set). */
  stored(): Promise<void> {
    this.flush();
    return this.chain;
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.queue.length === 0) return;
    const batch = this.queue;
    this.queue = [];
    this.queued = 0;
    this.chain = this.chain
      .then(() => (this.failure === undefined ? this.insert(batch) : undefined))
      .catch((error: unknown) => {
        const message = error instanceof Error ? error.message : String(error);
        this.failure ??= `the log could not be written (${message}); output after this point was lost`;
      });
  }

  private async insert(batch: Pending[]): Promise<void> {
    const length = batch.reduce((sum, p) => sum + p.length, 0);
    for (let attempt = 0; ; attempt++) {
      const start = this.offset ?? (await this.o.end());
      let at = start;
      const chunks: LogChunk[] = batch.map((p) => {
        const chunk = {
          start: at,
          bytes: p.parts.length === 1 ? p.parts[0]! : Buffer.concat(p.parts),
          at: p.at,
        };
        at += p.length;
        return chunk;
      });
      try {
        await this.o.chunks.insert(this.o.runId, this.o.cubeId, chunks);
        this.offset = start + length;
        return;
      } catch (error) {
        // Another writer appended to this log (a note from another replica): append after it.
        if (!(error instanceof LogChunkTakenError) || attempt >= 4) throw error;
        this.offset = undefined;
      }
    }
  }
}
