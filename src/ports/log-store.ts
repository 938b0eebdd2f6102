/** A line of cube output with the time it was received (epoch ms). */
export interface LogLine {
  at: number;
  text: string;
}

/** An open cube log. Writes are appended in call order and are readable as soon as `write` returns. */
export interface LogSink {
  /** Never throws: a storage error is kept in `failure` (the first one) and later writes are dropped. */
  write(chunk: Buffer, at: number): void;
  /** A line from Conveyor itself (timeouts, errors), marked so it cannot be mistaken for cube output. */
  note(text: string, at: number): void;
  close(): void;
  /** Why writing failed, when it did: the cube then fails with this message. */
  failure?: string;
  /**
   * Resolves once what was written is stored where readers read it (a worker's sink: once the
   * server holds it); `failure` is settled then. Absent where `write` stores synchronously.
   */
  stored?(): Promise<void>;
}

/**
 * Storage of cube logs: stdout and stderr of a cube interleaved in one stream, with receive times.
 *
 * Contract: one writer per cube log (`open` twice for the same cube appends). Readers may read
 * while the writer is writing; they see a prefix of the log. `read` of a log never opened returns
 * no lines. Bytes are stored as written: masking happens before `write`.
 */
/** One page of a log: at most 1000 lines and 1 MiB (a line over 64 KiB comes in pieces). */
export interface LogPage {
  lines: LogLine[];
  /** No line will be added to this page any more. */
  complete: boolean;
  /** The log has ended and no page follows this one. */
  last: boolean;
}

export interface LogStore {
  open(runId: string, cubeId: string): LogSink;
  /**
   * Page `page` (1-based) of the log; undefined when it has not started (page 1 always has).
   * Until `final` (the cube ended) an unfinished last line is held back.
   */
  page(runId: string, cubeId: string, page: number, final: boolean): Promise<LogPage | undefined>;
  /**
   * Complete lines from byte `offset` on (about 1 MiB at most); `ends` holds the byte offset after
   * each line, `next` is where to go on (equal to `offset`: nothing more yet).
   */
  readFrom(
    runId: string,
    cubeId: string,
    offset: number,
    final: boolean,
  ): Promise<{ lines: LogLine[]; ends: number[]; next: number }>;
  /** Every line; for small logs (the `conveyor run` summary). */
  read(runId: string, cubeId: string): Promise<LogLine[]>;
  /** Size in bytes of what is stored so far. */
  size(runId: string, cubeId: string): Promise<number>;
  /** The stored bytes in [start, end) (fewer when the log is shorter). */
  readBytes(runId: string, cubeId: string, start: number, end: number): Promise<Buffer>;
  /**
   * Stores `chunk` at byte `start` exactly, committed when this resolves, unless a chunk starts
   * there already (`taken`: another writer, maybe on another replica, stored one first). Stores
   * that several servers share have it, so the offset append's check holds across processes.
   */
  appendAt?(runId: string, cubeId: string, start: number, chunk: Buffer, at: number): Promise<AppendAtResult>;
}

/** What `appendAt` did; `failure` is a storage error, worded like LogSink's `failure`. */
export type AppendAtResult = { ok: true } | { ok: false; taken: true } | { ok: false; failure: string };
