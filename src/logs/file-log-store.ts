import { closeSync, fstatSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { LogLine, LogPage, LogSink, LogStore } from '../ports/log-store.js';
import { marksIn, type LogBytes } from './log-pager.js';
import { LogReader } from './log-reader.js';

/** Prefix of lines Conveyor itself writes into a cube log. */
export const NOTE_PREFIX = '##[conveyor] ';

/**
 * Cube logs as two files: `<cube>.log` holds the raw output exactly as received (so `tail -f` works),
 * and `<cube>.idx` maps byte offsets to receive times, one `offset ms` line per chunk. Reads are
 * by range (log-pager.ts): memory stays flat whatever the size of a log and the number of readers.
 * Writes are synchronous so memory stays flat however fast a cube writes. A write that fails
 * (storage full, not writable) never throws into the caller: the sink records the first error in
 * `failure` and drops the rest, and the cube runner fails the cube with it.
 */
export class FileLogStore implements LogStore {
  private readonly reader = new LogReader((runId, cubeId) => {
    const files = this.files(runId, cubeId);
    return Promise.resolve(fileLogBytes(files.log, files.idx));
  });

  constructor(private readonly dir: string) {}

  files(runId: string, cubeId: string): { log: string; idx: string } {
    const base = join(this.dir, safe(runId), safe(cubeId));
    return { log: `${base}.log`, idx: `${base}.idx` };
  }

  open(runId: string, cubeId: string): LogSink {
    const dir = join(this.dir, safe(runId));
    const files = this.files(runId, cubeId);
    // Files are created on the first write: most short cubes print nothing, and creating a
    // file costs more than the rest of a short cube's bookkeeping.
    let fds: { log: number; idx: number } | undefined;
    let offset = 0;
    let lastAt = -1;
    let endsWithNewline = true;
    let closed = false;
    const sink: LogSink = {
      write: (chunk, at) => {
        if (closed || sink.failure !== undefined || chunk.length === 0) return;
        try {
          if (!fds) {
            mkdirSync(dir, { recursive: true });
            const log = openSync(files.log, 'a');
            fds = { log, idx: openSync(files.idx, 'a') };
            offset = fstatSync(fds.log).size;
          }
          if (at !== lastAt) {
            writeAll(fds.idx, Buffer.from(`${offset} ${at}\n`));
            lastAt = at;
          }
          writeAll(fds.log, chunk);
          offset += chunk.length;
          endsWithNewline = chunk[chunk.length - 1] === 10;
        } catch (error) {
          sink.failure = `the log could not be written (${(error as Error).message}); output after this point was lost`;
        }
      },
      note(text: string, at: number): void {
        sink.write(Buffer.from(`${endsWithNewline ? '' : '\n'}${NOTE_PREFIX}${text}\n`), at);
      },
      close(): void {
        if (closed) return;
        closed = true;
        if (!fds) return;
        for (const fd of [fds.log, fds.idx]) {
          try {
            closeSync(fd);
          } catch {
            // already reported through `failure` if writing failed
          }
        }
      },
    };
    return sink;
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

  size(runId: string, cubeId: string): Promise<number> {
    return this.reader.size(runId, cubeId);
  }

  readBytes(runId: string, cubeId: string, start: number, end: number): Promise<Buffer> {
    return this.reader.readBytes(runId, cubeId, start, end);
  }
}

/** A log stored as `<cube>.log` and `<cube>.idx` files (a file not there reads as empty). */
export function fileLogBytes(log: string, idx: string): LogBytes {
  return {
    key: `file:${log}`,
    size: () =>
      stat(log).then(
        (s) => s.size,
        () => 0,
      ),
    read: (start, length) => readRange(log, start, length),
    marks: async (from, to) => {
      let handle;
      try {
        handle = await open(idx, 'r');
      } catch {
        return [];
      }
      try {
        const file = handle;
        const size = (await file.stat()).size;
        const source = {
          size,
          read: async (position: number, length: number) => {
            const buffer = Buffer.alloc(length);
            const { bytesRead } = await file.read(buffer, 0, length, position);
            return buffer.subarray(0, bytesRead);
          },
        };
        return await marksIn(source, from, to);
      } finally {
        await handle.close();
      }
    },
  };
}

/** writeSync until every byte is written (a short write on a nearly full disk is not an error). */
function writeAll(fd: number, data: Buffer): void {
  let done = 0;
  while (done < data.length) done += writeSync(fd, data, done);
}

/** Up to `length` bytes of `file` from `offset`; empty when the file does not exist. */
export async function readRange(file: string, offset: number, length: number): Promise<Buffer> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return Buffer.alloc(0);
    throw error;
  }
  try {
    const buffer = Buffer.alloc(length);
    const { bytesRead } = await handle.read(buffer, 0, length, offset);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

function safe(id: string): string {
  return id.replace(/[^A-Za-z0-9._-]/g, '_');
}
