/** Bytes [start, start + bytes.length) of one cube log, received at `at` (epoch ms). */
export interface LogChunk {
  start: number;
  bytes: Buffer;
  at: number;
}

/** A chunk's start offset is stored already (another writer, or another replica, stored it first). */
export class LogChunkTakenError extends Error {
  readonly code = 'ChunkTaken';
}

/**
 * Live cube log chunks in the database every replica reads (docs/scaling.md "Logs"), until the
 * cube ends and its chunks are compacted into a blob object.
 *
 * Contract: chunks of one log do not overlap and follow each other without gaps; that is kept by
 * writers inserting at `end` only, and by the store refusing a second chunk at a stored start
 * (LogChunkTakenError; nothing of that call is stored). Inserts are committed when the call
 * resolves. Other errors are storage errors (the database refused or is unreachable).
 */
export interface LogChunkStore {
  /** The end of the last chunk (0: none). */
  end(runId: string, cubeId: string): Promise<number>;
  /** Stores every chunk or none (LogChunkTakenError when a start is taken). */
  insert(runId: string, cubeId: string, chunks: LogChunk[]): Promise<void>;
  /** The chunks overlapping bytes [from, to), ascending. */
  read(runId: string, cubeId: string, from: number, to: number): Promise<LogChunk[]>;
  /** `[start, at]` of the chunks overlapping bytes [from, to), ascending. */
  marks(runId: string, cubeId: string, from: number, to: number): Promise<[number, number][]>;
  /** Deletes the chunks that start before `before` (compacted elsewhere). */
  deleteBefore(runId: string, cubeId: string, before: number): Promise<void>;
  /** Cubes of `runId` that have chunks. */
  cubesOf(runId: string): Promise<string[]>;
  /** Up to `limit` logs with chunks whose cube has ended or no longer exists. */
  ended(limit: number): Promise<{ runId: string; cubeId: string }[]>;
}
