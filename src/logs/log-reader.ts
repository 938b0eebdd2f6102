import type { LogLine, LogPage } from '../ports/log-store.js';
import { LogPager, MAX_LINE_BYTES, PAGE_BYTES, lineEnds, type LogBytes } from './log-pager.js';

/**
 * The read half of a LogStore over any LogBytes: pages, lines from an offset, and lines with
 * their receive times. Stores differ only in where the bytes are (`bytes` finds them).
 */
export class LogReader {
  private readonly pager = new LogPager();

  constructor(private readonly bytes: (runId: string, cubeId: string) => Promise<LogBytes>) {}

  async page(runId: string, cubeId: string, page: number, final: boolean): Promise<LogPage | undefined> {
    const log = await this.bytes(runId, cubeId);
    const range = await this.pager.page(log, page, final);
    if (!range) return undefined;
    const lines = await linesIn(log, range.start, range.end);
    return { lines, complete: range.complete, last: range.last };
  }

  async readFrom(
    runId: string,
    cubeId: string,
    offset: number,
    final: boolean,
  ): Promise<{ lines: LogLine[]; ends: number[]; next: number }> {
    const log = await this.bytes(runId, cubeId);
    const data = await log.read(offset, PAGE_BYTES + MAX_LINE_BYTES);
    const whole = data.length < PAGE_BYTES + MAX_LINE_BYTES;
    const ends = lineEnds(data, 0, final && whole);
    const last = ends[ends.length - 1] ?? 0;
    const lines = await linesIn(log, offset, offset + last, data);
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

  async size(runId: string, cubeId: string): Promise<number> {
    return (await this.bytes(runId, cubeId)).size();
  }

  async readBytes(runId: string, cubeId: string, start: number, end: number): Promise<Buffer> {
    if (end <= start) return Buffer.alloc(0);
    return (await this.bytes(runId, cubeId)).read(start, end - start);
  }
}

/** The lines of bytes [start, end) (which start and end on line boundaries) with their times. */
async function linesIn(log: LogBytes, start: number, end: number, read?: Buffer): Promise<LogLine[]> {
  const data = read ? read.subarray(0, end - start) : await log.read(start, end - start);
  const marks = await log.marks(start, end);
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
