import { Readable } from 'node:stream';
import { blobSegment, type BlobStore } from '../ports/blob-store.js';
import { LogChunkTakenError, type LogChunkStore } from '../ports/log-chunk-store.js';
import type { AppendAtResult, LogLine, LogPage, LogStore } from '../ports/log-store.js';
import { blobLogBytes, type LogObject } from './blob-log-bytes.js';
import { ChunkLogSink } from './chunk-log-sink.js';
import { fileLogBytes, type FileLogStore } from './file-log-store.js';
import type { LogBytes } from './log-pager.js';
import { LogReader } from './log-reader.js';

export interface SharedLogStoreOptions {
  chunks: LogChunkStore;
  blobs: BlobStore;
  /** Logs written before logs were shared: read when a log has neither chunks nor an object. */
  legacy?: FileLogStore;
  /** How long a sink holds writes before inserting them (default 25 ms). */
  flushMs?: number;
}

/**
 * Cube logs every replica reads (docs/scaling.md "Logs"): live chunks are database rows
 * (LogChunkStore), and a cube's chunks are compacted into two blob objects when it ends,
 * `logs/<run>/<cube>.log` (the bytes) and `.idx` (the receive-time marks, FileLogStore's format).
 * The object is written before the rows are deleted and reads take bytes below the object's size
 * from the object, so a crash between the two only leaves rows that the next compaction deletes.
 * A log opened again after its compaction appends rows after the object.
 */
export class SharedLogStore implements LogStore {
  private readonly reader = new LogReader((runId, cubeId) => this.bytes(runId, cubeId));
  /** This process's open sinks per log: reads wait for their writes (written is readable). */
  private readonly sinks = new Map<string, Set<ChunkLogSink>>();
  private readonly compactions = new Map<string, Promise<void>>();
  private sweeping: Promise<unknown> = Promise.resolve();

  constructor(private readonly o: SharedLogStoreOptions) {}

  open(runId: string, cubeId: string): ChunkLogSink {
    const key = logKey(runId, cubeId);
    const open = this.sinks.get(key) ?? new Set();
    this.sinks.set(key, open);
    const sink: ChunkLogSink = new ChunkLogSink({
      chunks: this.o.chunks,
      runId,
      cubeId,
      end: () => this.end(runId, cubeId),
      flushMs: this.o.flushMs ?? 25,
      onDone: () => {
        open.delete(sink);
        if (open.size === 0 && this.sinks.get(key) === open) this.sinks.delete(key);
      },
    });
    open.add(sink);
    return sink;
  }

  /** See LogStore: a chunk row at `start`, whose primary key refuses a second one. */
  async appendAt(
    runId: string,
    cubeId: string,
    start: number,
    chunk: Buffer,
    at: number,
  ): Promise<AppendAtResult> {
    try {
      await this.o.chunks.insert(runId, cubeId, [{ start, bytes: Buffer.from(chunk), at }]);
      return { ok: true };
    } catch (error) {
      if (error instanceof LogChunkTakenError) return { ok: false, taken: true };
      const message = error instanceof Error ? error.message : String(error);
      return {
        ok: false,
        failure: `the log could not be written (${message}); output after this point was lost`,
      };
    }
  }

  page(runId: string, cubeId: string, page: number, final: boolean): Promise<LogPage | undefined> {
    return this.reader.page(runId, cubeId, page, final);
  }

  readFrom(
    runId: string,
    cubeId: string,
    offset: number,
    final: boolean,
  ): Promise<{ lines: LogLine[]; ends: number[]; next: number }> {
    return this.reader.readFrom(runId, cubeId, offset, final);
  }

  read(runId: string, cubeId: string): Promise<LogLine[]> {
    return this.reader.read(runId, cubeId);
  }

  /** Without the reader: an offset append asks for the size first, so it costs one query here. */
  async size(runId: string, cubeId: string): Promise<number> {
    await this.settle(runId, cubeId);
    const end = await this.end(runId, cubeId);
    if (end > 0 || !this.o.legacy) return end;
    const files = this.o.legacy.files(runId, cubeId);
    return fileLogBytes(files.log, files.idx).size();
  }

  readBytes(runId: string, cubeId: string, start: number, end: number): Promise<Buffer> {
    return this.reader.readBytes(runId, cubeId, start, end);
  }

  /** Compacts the log's rows into its objects (once at a time per log in this process). */
  compact(runId: string, cubeId: string): Promise<void> {
    const key = logKey(runId, cubeId);
    const running = this.compactions.get(key);
    if (running) return running.then(() => this.compact(runId, cubeId));
    const job = this.compactNow(runId, cubeId).finally(() => this.compactions.delete(key));
    this.compactions.set(key, job);
    return job;
  }

  /** Resolves once no compaction is under way (before the database closes). */
  async drain(): Promise<void> {
    await this.sweeping;
    while (this.compactions.size > 0) await Promise.allSettled([...this.compactions.values()]);
  }

  /** Compacts every log of a run that has rows (a run's end). */
  async compactRun(runId: string): Promise<void> {
    for (const cubeId of await this.o.chunks.cubesOf(runId)) await this.compact(runId, cubeId);
  }

  /**
   * Compacts the logs whose cubes ended but kept rows (a replica died before compacting them);
   * errors go to `onError`, never to the caller. Resolves with how many logs it compacted.
   */
  compactEnded(onError: (what: string, error: unknown) => void): Promise<number> {
    const sweep = this.sweep(onError).catch((error: unknown) => {
      onError('the logs of ended cubes', error);
      return 0;
    });
    this.sweeping = sweep;
    return sweep;
  }

  private async sweep(onError: (what: string, error: unknown) => void): Promise<number> {
    let done = 0;
    // Each log once per sweep: one that failed, or that a writer keeps appending to, waits for the next.
    const seen = new Set<string>();
    for (;;) {
      const logs = (await this.o.chunks.ended(100)).filter((l) => !seen.has(logKey(l.runId, l.cubeId)));
      if (logs.length === 0) return done;
      for (const { runId, cubeId } of logs) {
        seen.add(logKey(runId, cubeId));
        try {
          await this.compact(runId, cubeId);
          done++;
        } catch (error) {
          onError(`the log of cube ${cubeId}`, error);
        }
      }
    }
  }

  private async compactNow(runId: string, cubeId: string): Promise<void> {
    await this.settle(runId, cubeId);
    const end = await this.o.chunks.end(runId, cubeId);
    if (end === 0) return;
    const object = await this.object(runId, cubeId);
    const base = object?.size ?? 0;
    if (end > base) {
      const bytes = this.chunked(runId, cubeId, object);
      const keys = objectKeys(runId, cubeId);
      // The marks first: the `.log` object is what makes readers take the object.
      await this.o.blobs.put(keys.idx, Readable.from(idxLines(bytes, end)));
      await this.o.blobs.put(keys.log, Readable.from(pieces(bytes, end)));
    }
    await this.o.chunks.deleteBefore(runId, cubeId, Math.max(end, base));
  }

  /** Waits for what this process's sinks of the log have written. */
  private async settle(runId: string, cubeId: string): Promise<void> {
    const open = this.sinks.get(logKey(runId, cubeId));
    if (open) await Promise.all([...open].map((sink) => sink.stored()));
  }

  private async object(runId: string, cubeId: string): Promise<LogObject | undefined> {
    const keys = objectKeys(runId, cubeId);
    const head = await this.o.blobs.head(keys.log);
    return head ? { ...keys, size: head.size } : undefined;
  }

  private async end(runId: string, cubeId: string): Promise<number> {
    // Rows first: compaction puts the object before it deletes the rows, so read in this order the
    // two never both miss the log's end (in parallel, the head could come before the put and the
    // rows after the delete).
    const end = await this.o.chunks.end(runId, cubeId);
    const object = await this.object(runId, cubeId);
    return Math.max(object?.size ?? 0, end);
  }

  private async bytes(runId: string, cubeId: string): Promise<LogBytes> {
    await this.settle(runId, cubeId);
    const object = await this.object(runId, cubeId);
    if (!object && this.o.legacy && (await this.o.chunks.end(runId, cubeId)) === 0) {
      const files = this.o.legacy.files(runId, cubeId);
      const old = fileLogBytes(files.log, files.idx);
      if ((await old.size()) > 0) return old;
    }
    return this.chunked(runId, cubeId, object);
  }

  /**
   * The log as the object's bytes followed by the rows after it. Rows missing where a read begins
   * (none, or the first one later) may have just been compacted by another replica: when the object
   * was not there before, it is looked for again and read instead.
   */
  private chunked(runId: string, cubeId: string, object: LogObject | undefined): LogBytes {
    const { chunks } = this.o;
    const base = object?.size ?? 0;
    const prefix = object ? blobLogBytes(this.o.blobs, object, '') : undefined;
    const compactedSince = async (from: number): Promise<LogBytes | undefined> => {
      if (object) return undefined;
      const now = await this.object(runId, cubeId);
      return now && now.size > from ? this.chunked(runId, cubeId, now) : undefined;
    };
    return {
      key: `shared:${logKey(runId, cubeId)}`,
      size: async () => Math.max(base, await chunks.end(runId, cubeId)),
      read: async (start, length) => {
        const end = start + length;
        const parts: Buffer[] = [];
        if (prefix && start < base) parts.push(await prefix.read(start, Math.min(end, base) - start));
        const from = Math.max(start, base);
        if (end <= from) return Buffer.concat(parts);
        const rows = await chunks.read(runId, cubeId, from, end);
        const first = rows[0];
        if (!first || first.start + first.bytes.length <= from || first.start > from) {
          const moved = await compactedSince(from);
          if (moved) return moved.read(start, length);
        }
        for (const chunk of rows) {
          const cut = chunk.bytes.subarray(
            Math.max(from - chunk.start, 0),
            Math.max(Math.min(end - chunk.start, chunk.bytes.length), 0),
          );
          if (cut.length > 0) parts.push(cut);
        }
        return Buffer.concat(parts);
      },
      marks: async (from, to) => {
        const head = prefix && from < base ? await prefix.marks(from, Math.min(to, base)) : [];
        const tailFrom = Math.max(from, base);
        const tail = to > tailFrom ? await chunks.marks(runId, cubeId, tailFrom, to) : [];
        if (to > tailFrom && !((tail[0]?.[0] ?? Infinity) <= tailFrom)) {
          const moved = await compactedSince(tailFrom);
          if (moved) return moved.marks(from, to);
        }
        return [...head, ...tail];
      },
    };
  }
}

function logKey(runId: string, cubeId: string): string {
  return `${runId}/${cubeId}`;
}

/** Where a compacted log lives in the blob store (FileLogStore's layout under `logs/`). */
export function objectKeys(runId: string, cubeId: string): { log: string; idx: string } {
  const base = `logs/${blobSegment(runId)}/${blobSegment(cubeId)}`;
  return { log: `${base}.log`, idx: `${base}.idx` };
}

const PIECE = 1024 * 1024;

/** The log's bytes [0, end) in pieces; a missing byte fails the put, so no short object is stored. */
async function* pieces(bytes: LogBytes, end: number): AsyncGenerator<Buffer> {
  for (let at = 0; at < end;) {
    const piece = await bytes.read(at, Math.min(PIECE, end - at));
    if (piece.length === 0) throw new Error(`the log's bytes from ${at} are missing`);
    yield piece;
    at += piece.length;
  }
}

/** The marks of [0, end) as `offset ms` lines, a line where the time changes. */
async function* idxLines(bytes: LogBytes, end: number): AsyncGenerator<Buffer> {
  let lastOffset = -1;
  let lastAt = -1;
  for (let from = 0; from < end; from += 16 * PIECE) {
    const lines: string[] = [];
    for (const [offset, at] of await bytes.marks(from, Math.min(end, from + 16 * PIECE))) {
      if (offset <= lastOffset) continue;
      lastOffset = offset;
      if (at === lastAt) continue;
      lastAt = at;
      lines.push(`${offset} ${at}\n`);
    }
    if (lines.length > 0) yield Buffer.from(lines.join(''));
  }
}
