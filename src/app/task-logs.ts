import { createHash } from 'node:crypto';
import type { LogStore } from '../ports/log-store.js';

export type AppendResult =
  | { ok: true; size: number }
  | { ok: false; size: number }
  | { ok: false; lost: true }
  /** The log store could not write the chunk (disk full, not writable): the sink's `failure`. */
  | { ok: false; storage: string };

/**
 * Appends by offset, GitLab's trace contract made replay-safe: `start` counts from `base` (the
 * log's size when the lease began). A chunk starting at the stored size is appended; one that
 * starts earlier is a retry whose stored part must match byte for byte, and only what lies beyond
 * the stored size is appended; anything else is refused with the stored size to resume from.
 * Appends to one log are serialized in this process, so concurrent retries cannot interleave, and
 * the lease is checked again (`held`) right before the bytes are written: an append that waited
 * behind others while its lease moved on writes nothing into the next attempt's part of the log.
 * Across replicas the store decides (`appendAt`): of two appends at one offset only one is stored,
 * and the other is checked again against what is stored then, as a retry would be.
 */
export class OffsetLogAppender {
  private readonly chains = new Map<string, Promise<unknown>>();

  constructor(private readonly logs: LogStore) {}

  append(
    runId: string,
    cubeId: string,
    base: number,
    start: number,
    chunk: Buffer,
    at: number,
    held: () => Promise<boolean> = () => Promise.resolve(true),
  ): Promise<AppendResult> {
    const key = `${runId}/${cubeId}`;
    const job = (this.chains.get(key) ?? Promise.resolve())
      .catch(() => undefined)
      .then(() => this.appendNow(runId, cubeId, base, start, chunk, at, held));
    this.chains.set(key, job);
    void job.finally(() => {
      if (this.chains.get(key) === job) this.chains.delete(key);
    });
    return job;
  }

  private async appendNow(
    runId: string,
    cubeId: string,
    base: number,
    start: number,
    chunk: Buffer,
    at: number,
    held: () => Promise<boolean>,
    tries = 0,
  ): Promise<AppendResult> {
    const stored = (await this.logs.size(runId, cubeId)) - base;
    if (start > stored || start < 0) return { ok: false, size: stored };
    const overlap = Math.min(chunk.length, stored - start);
    if (overlap > 0) {
      const have = await this.logs.readBytes(runId, cubeId, base + start, base + start + overlap);
      if (!have.equals(chunk.subarray(0, overlap))) return { ok: false, size: stored };
    }
    const rest = chunk.subarray(overlap);
    if (rest.length > 0) {
      // The last wait before the write (synchronous in FileLogStore): nothing comes between them.
      if (!(await held())) return { ok: false, lost: true };
      if (this.logs.appendAt) {
        const done = await this.logs.appendAt(runId, cubeId, base + stored, rest, at);
        if ('failure' in done) return { ok: false, storage: done.failure };
        if ('taken' in done) {
          if (tries < 3) return this.appendNow(runId, cubeId, base, start, chunk, at, held, tries + 1);
          return { ok: false, size: (await this.logs.size(runId, cubeId)) - base };
        }
      } else {
        const sink = this.logs.open(runId, cubeId);
        sink.write(rest, at);
        sink.close();
        await sink.stored?.();
        if (sink.failure !== undefined) return { ok: false, storage: sink.failure };
      }
    }
    return { ok: true, size: stored + rest.length };
  }

  /** Size and sha256 of what this lease stored (from `base`). */
  async digest(runId: string, cubeId: string, base: number): Promise<{ bytes: number; sha256: string }> {
    const size = await this.logs.size(runId, cubeId);
    const bytes = await this.logs.readBytes(runId, cubeId, base, size);
    return { bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
  }
}
