import { createHash } from 'node:crypto';
import { FileLogStore } from '../logs/file-log-store.js';
import type { LogLine, LogPage, LogSink, LogStore } from '../ports/log-store.js';
import { LeaseLostError, type Lease, type WorkerClient } from './client.js';

/** Upload at most this much per request; flush at least every FLUSH_MS. */
const CHUNK = 256 * 1024;
const FLUSH_MS = 200;

interface CubeLog {
  cubeId: string;
  /** Bytes the server acknowledged (its size for this lease). */
  sent: number;
  written: number;
  /** The server could not store this log (507): nothing more is sent, the cube fails with it. */
  failed?: string;
  uploading?: Promise<void>;
  timer?: NodeJS.Timeout;
}

/**
 * The worker's log store: cube output is spooled to a file in the task directory (so nothing is
 * lost while the server is unreachable) and appended to the server by offset, in order, one
 * request at a time per cube. A retried request never duplicates bytes: the server appends only
 * from its own size and answers 416 with that size when the worker is behind or ahead.
 */
export class UploadingLogStore implements LogStore {
  private readonly spool: FileLogStore;
  private readonly cubes = new Map<string, CubeLog>();
  private fenced = false;

  constructor(
    private readonly dir: string,
    private readonly runId: string,
    private readonly client: WorkerClient,
    private readonly lease: Lease,
    private readonly onFenced: () => void,
  ) {
    this.spool = new FileLogStore(dir);
  }

  open(runId: string, cubeId: string): LogSink {
    const inner = this.spool.open(runId, cubeId);
    let log = this.cubes.get(cubeId);
    if (!log) this.cubes.set(cubeId, (log = { cubeId, sent: 0, written: 0 }));
    const entry = log;
    const kick = () => {
      entry.timer ??= setTimeout(() => {
        entry.timer = undefined;
        void this.upload(entry).catch(() => undefined);
      }, FLUSH_MS);
    };
    return {
      write: (chunk, at) => {
        inner.write(chunk, at);
        entry.written += chunk.length;
        kick();
      },
      note: (text, at) => {
        inner.note(text, at);
        void this.spool.size(runId, cubeId).then((size) => {
          entry.written = size;
          kick();
        });
      },
      close: () => inner.close(),
      get failure() {
        return inner.failure ?? entry.failed;
      },
      stored: () => this.flushCube(cubeId),
    };
  }

  page(runId: string, cubeId: string, page: number, final: boolean): Promise<LogPage | undefined> {
    return this.spool.page(runId, cubeId, page, final);
  }

  readFrom(runId: string, cubeId: string, offset: number, final: boolean) {
    return this.spool.readFrom(runId, cubeId, offset, final);
  }

  read(runId: string, cubeId: string): Promise<LogLine[]> {
    return this.spool.read(runId, cubeId);
  }

  size(runId: string, cubeId: string): Promise<number> {
    return this.spool.size(runId, cubeId);
  }

  readBytes(runId: string, cubeId: string, start: number, end: number): Promise<Buffer> {
    return this.spool.readBytes(runId, cubeId, start, end);
  }

  /** Uploads what is spooled for one cube, from the server's acknowledged size. */
  private upload(log: CubeLog): Promise<void> {
    log.uploading ??= this.uploadNow(log).finally(() => (log.uploading = undefined));
    return log.uploading;
  }

  private async uploadNow(log: CubeLog): Promise<void> {
    for (;;) {
      if (this.fenced || this.lease.signal.aborted || log.failed !== undefined) return;
      const size = await this.spool.size(this.runId, log.cubeId);
      if (log.sent >= size) return;
      const chunk = await this.spool.readBytes(
        this.runId,
        log.cubeId,
        log.sent,
        Math.min(size, log.sent + CHUNK),
      );
      const { taskId, epoch, token } = this.lease;
      try {
        const got = await this.client.call<{ size?: number; message?: string; details?: { size?: string } }>(
          'PATCH',
          `/worker/v1/tasks/${taskId}/logs/${log.cubeId}?epoch=${epoch}`,
          {
            token,
            body: chunk,
            headers: { 'content-range': `bytes ${log.sent}-${log.sent + chunk.length}/*` },
            answers: (status) => (status < 500 && status !== 429) || status === 507,
          },
        );
        if (got.status === 202) log.sent = got.body.size ?? log.sent + chunk.length;
        else if (got.status === 416) log.sent = Number(got.body.details?.size ?? 0);
        else if (got.status === 507) log.failed = got.body.message ?? 'the server could not store the log';
        else throw new Error(`log upload answered ${got.status}`);
      } catch (error) {
        if (error instanceof LeaseLostError) {
          this.fenced = true;
          this.onFenced();
          return;
        }
        throw error;
      }
    }
  }

  /** Uploads what one cube spooled; resolves once the server holds it (or the lease is gone). */
  async flushCube(cubeId: string): Promise<void> {
    const log = this.cubes.get(cubeId);
    if (log) await this.drain(log).catch(() => undefined);
  }

  /** Uploads everything spooled; resolves once the server holds all of it (or the lease is gone). */
  async flush(): Promise<void> {
    for (const log of this.cubes.values()) await this.drain(log);
  }

  /** Uploads one cube's spool now, after the upload in flight, instead of at its flush timer. */
  private async drain(log: CubeLog): Promise<void> {
    clearTimeout(log.timer);
    log.timer = undefined;
    await log.uploading?.catch(() => undefined);
    await this.upload(log);
  }

  /** Waits for the uploads in flight (after a fence: until the server refused them, 409). */
  async settle(): Promise<void> {
    for (const log of this.cubes.values()) {
      clearTimeout(log.timer);
      await log.uploading?.catch(() => undefined);
    }
  }

  /** Size and sha256 of each cube's spooled log, for the final report. */
  async digests(): Promise<Record<string, { bytes: number; sha256: string }>> {
    const out: Record<string, { bytes: number; sha256: string }> = {};
    for (const [cubeId, log] of this.cubes) {
      // A log the server could not store is not claimed: the cube failed with that error.
      if (log.failed !== undefined) continue;
      const size = await this.spool.size(this.runId, cubeId);
      const bytes = await this.spool.readBytes(this.runId, cubeId, 0, size);
      out[cubeId] = { bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
    }
    return out;
  }

  /** The server said it holds `size` bytes of a cube's log: resend from there. */
  rewind(cubeId: string, size: number): void {
    const log = this.cubes.get(cubeId);
    if (log) log.sent = size;
  }
}
