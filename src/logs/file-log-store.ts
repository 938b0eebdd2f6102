import { closeSync, fstatSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { LogLine, LogPage, LogSink, LogStore } from '../ports/log-store.js';
import { LogPager, MAX_LINE_BYTES, PAGE_BYTES, lineEnds, marksFor } from './log-pager.js';

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
  private readonly pager = new LogPager();

  constructor(private readonly dir: string) {}

  private files(runId: string, cubeId: string): { log: string; idx: string } {
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

  async page(runId: string, cubeId: string, page: number, final: boolean): Promise<LogPage | undefined> {
    const files = this.files(runId, cubeId);
    const range = await this.pager.page(files.log, page, final);
    if (!range) return undefined;
    const lines = await this.linesIn(runId, cubeId, range.start, range.end);
    return { lines, complete: range.complete, last: range.last };
  }

  async readFrom(
    runId: string,
    cubeId: string,
    offset: number,
    final: boolean,
  ): Promise<{ lines: LogLine[]; ends: number[]; next: number }> {
    const files = this.files(runId, cubeId);
    const data = await readRange(files.log, offset, PAGE_BYTES + MAX_LINE_BYTES);
    const whole = data.length < PAGE_BYTES + MAX_LINE_BYTES;
    const ends = lineEnds(data, 0, final && whole);
    const last = ends[ends.length - 1] ?? 0;
    const lines = await this.linesIn(runId, cubeId, offset, offset + last, data);
    return { lines, ends: ends.map((end) => offset + end), next: offset + last };
  }

  async read(runId: string, cubeId: string): Promise<LogLine[]> {
    const lines: LogLine[] = [];
    for (let offset = 0; ;) {
      const got = await this.readFrom(runId, cubeId, offset, true);
      if (got.next === offset) return lines;
      for (const line of got.lines) lines.push(line); // a spread of a big range overflows the stack
      offset = got.next;
    }
  }

  /** The lines of bytes [start, end) (which start and end on line boundaries) with their times. */
  private async linesIn(
    runId: string,
    cubeId: string,
    start: number,
    end: number,
    read?: Buffer,
  ): Promise<LogLine[]> {
    const files = this.files(runId, cubeId);
    const data = read ? read.subarray(0, end - start) : await readRange(files.log, start, end - start);
    const marks = await marksFor(files.idx, start, end);
    const lines: LogLine[] = [];
    let mark = 0;
    let from = 0;
    for (const to of lineEnds(data, 0, true)) {
      const at = start + from;
      while (mark + 1 < marks.length && (marks[mark + 1]?.[0] ?? Infinity) <= at) mark++;
      const textEnd = data[to - 1] === 10 ? to - 1 : to;
      lines.push({ at: marks[mark]?.[1] ?? 0, text: data.toString('utf8', from, textEnd) });
      from = to;
    }
    return lines;
  }

  async size(runId: string, cubeId: string): Promise<number> {
    try {
      return (await stat(this.files(runId, cubeId).log)).size;
    } catch {
      return 0;
    }
  }

  async readBytes(runId: string, cubeId: string, start: number, end: number): Promise<Buffer> {
    if (end <= start) return Buffer.alloc(0);
    let handle;
    try {
      handle = await open(this.files(runId, cubeId).log, 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return Buffer.alloc(0);
      throw error;
    }
    try {
      const buffer = Buffer.alloc(end - start);
      const { bytesRead } = await handle.read(buffer, 0, end - start, start);
      return buffer.subarray(0, bytesRead);
    } finally {
      await handle.close();
    }
  }
}

/** writeSync until every byte is written (a short write on a nearly full disk is not an error). */
function writeAll(fd: number, data: Buffer): void {
  let done = 0;
  while (done < data.length) done += writeSync(fd, data, done);
}

/** Up to `length` bytes of `file` from `offset`; empty when the file does not exist. */
async function readRange(file: string, offset: number, length: number): Promise<Buffer> {
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
