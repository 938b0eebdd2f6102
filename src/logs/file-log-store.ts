import { closeSync, fstatSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { LogLine, LogSink, LogStore } from '../ports/log-store.js';

/** Prefix of lines Conveyor itself writes into a cube log. */
export const NOTE_PREFIX = '##[conveyor] ';

/**
 * Cube logs as two files: `<cube>.log` holds the raw output exactly as received (so `tail -f` works),
 * and `<cube>.idx` maps byte offsets to receive times, one `offset ms` line per chunk.
 * Writes are synchronous so memory stays flat however fast a cube writes. A write that fails
 * (storage full, not writable) never throws into the caller: the sink records the first error in
 * `failure` and drops the rest, and the cube runner fails the cube with it.
 */
export class FileLogStore implements LogStore {
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

  async read(runId: string, cubeId: string): Promise<LogLine[]> {
    const files = this.files(runId, cubeId);
    const [log, idx] = await Promise.all([readOrEmpty(files.log), readOrEmpty(files.idx)]);
    const marks = idx
      .toString()
      .split('\n')
      .filter(Boolean)
      .map((line) => line.split(' ').map(Number) as [number, number]);
    const lines: LogLine[] = [];
    let mark = 0;
    let start = 0;
    while (start < log.length) {
      let end = log.indexOf(10, start);
      if (end < 0) end = log.length;
      while (mark + 1 < marks.length && (marks[mark + 1]?.[0] ?? Infinity) <= start) mark++;
      lines.push({ at: marks[mark]?.[1] ?? 0, text: log.toString('utf8', start, end) });
      start = end + 1;
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
}

/** writeSync until every byte is written (a short write on a nearly full disk is not an error). */
function writeAll(fd: number, data: Buffer): void {
  let done = 0;
  while (done < data.length) done += writeSync(fd, data, done);
}

async function readOrEmpty(file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return Buffer.alloc(0);
    throw error;
  }
}

function safe(id: string): string {
  return id.replace(/[^A-Za-z0-9._-]/g, '_');
}
