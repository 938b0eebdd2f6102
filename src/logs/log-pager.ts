/** A line longer than this is shown in pieces of this size (the stored bytes are unchanged). */
export const MAX_LINE_BYTES = 64 * 1024;
/** A log page holds at most this many lines and bytes; SourceCraft's pages are "of unequal size". */
export const PAGE_LINES = 1000;
export const PAGE_BYTES = 1024 * 1024;
const CHUNK = 1024 * 1024;

/**
 * The stored bytes of one log wherever they are (a file, database rows, a blob object): what the
 * pager and the line reader need, read by range so memory stays flat whatever a log's size.
 */
export interface LogBytes {
  /** Names the log (the same log read from another place keeps its key: the bytes are the same). */
  readonly key: string;
  size(): Promise<number>;
  /** Up to `length` bytes from `start` (fewer at the end; empty for a log not stored). */
  read(start: number, length: number): Promise<Buffer>;
  /** Receive-time marks `[offset, ms]`, ascending, that cover bytes [from, to). */
  marks(from: number, to: number): Promise<[number, number][]>;
}

/** Ends of the lines in `data` from `start`: a line ends after `\n`, or after MAX_LINE_BYTES (a `\n` right there joins it). */
export function lineEnds(data: Buffer, start: number, final: boolean): number[] {
  const ends: number[] = [];
  let at = start;
  while (at < data.length) {
    const limit = at + MAX_LINE_BYTES;
    // Searched only up to the cut: a log without newlines must not be scanned to its end per piece.
    const found = data.subarray(at, Math.min(limit + 1, data.length)).indexOf(10);
    const newline = found < 0 ? -1 : at + found;
    if (newline >= 0 && newline <= limit) at = newline + 1;
    else if (data.length > limit) at = limit;
    else if (final) at = data.length;
    else break;
    ends.push(at);
  }
  return ends;
}

/** Where pages start in one log, found by scanning it once, incrementally as it grows. */
interface PageIndex {
  starts: number[];
  /** Scanned up to here; the page being filled started at starts[starts.length-1]. */
  scanned: number;
  lines: number;
  bytes: number;
  final: boolean;
}

/**
 * Finds pages of a log without reading it whole: it scans in 1 MiB chunks, remembering where
 * each page starts (a few numbers per MiB), so page N costs one scan the first time and a range
 * read after. Lines are cut as `lineEnds` cuts them.
 */
export class LogPager {
  private readonly indexes = new Map<string, { index: PageIndex; busy: Promise<void> }>();

  /** Byte range of page `page` (1-based), and whether it is complete; undefined: not started. */
  async page(
    log: LogBytes,
    page: number,
    final: boolean,
  ): Promise<{ start: number; end: number; complete: boolean; last: boolean } | undefined> {
    const entry = this.entry(log.key);
    const run = entry.busy.then(() => this.scan(log, entry.index, page, final));
    entry.busy = run.then(
      () => undefined,
      () => undefined,
    );
    await run;
    const { index } = entry;
    const start = index.starts[page - 1];
    if (start === undefined) return undefined;
    const next = index.starts[page];
    const end = next ?? index.scanned;
    // A page has started once it shows a line (page 1 always exists).
    if (page > 1 && end === start) return undefined;
    return {
      start,
      end,
      complete: next !== undefined || index.final,
      last: next === undefined && index.final,
    };
  }

  private entry(file: string): { index: PageIndex; busy: Promise<void> } {
    let entry = this.indexes.get(file);
    if (!entry) {
      if (this.indexes.size >= 256) this.indexes.delete(this.indexes.keys().next().value as string);
      entry = {
        index: { starts: [0], scanned: 0, lines: 0, bytes: 0, final: false },
        busy: Promise.resolve(),
      };
      this.indexes.set(file, entry);
    }
    return entry;
  }

  private async scan(log: LogBytes, index: PageIndex, page: number, final: boolean): Promise<void> {
    if (index.starts.length > page) return;
    if (index.final) {
      // A log opened again appends (a restarted cube): scan what came after.
      if ((await log.size()) <= index.scanned) return;
      index.final = false;
    }
    for (;;) {
      const length = CHUNK + MAX_LINE_BYTES;
      const data = await log.read(index.scanned, length);
      const eof = data.length < length;
      const ends = lineEnds(data, 0, eof && final);
      let from = 0;
      for (const end of ends) {
        const size = end - from;
        if (index.lines >= PAGE_LINES || (index.lines > 0 && index.bytes + size > PAGE_BYTES)) {
          index.starts.push(index.scanned + from);
          index.lines = 0;
          index.bytes = 0;
        }
        index.lines++;
        index.bytes += size;
        from = end;
      }
      index.scanned += from;
      // A page is known to be over when the line after it has begun and cannot fit.
      const rest = data.length - from;
      if (rest > 0 && index.lines > 0 && (index.lines >= PAGE_LINES || index.bytes + rest > PAGE_BYTES)) {
        index.starts.push(index.scanned);
        index.lines = 0;
        index.bytes = 0;
      }
      if (eof) {
        index.final = final;
        return;
      }
      if (index.starts.length > page) return;
    }
  }
}

/** Random access to an index of `offset ms` lines (a file or an object). */
export interface MarkSource {
  size: number;
  read(position: number, length: number): Promise<Buffer>;
}

/**
 * Receive-time marks `[offset, ms]` of an index (`offset ms\n` lines, ascending) that cover bytes
 * [from, to) of its log. `probe` is the read size of the binary search: small for files, larger
 * where each read is a request.
 */
export async function marksIn(
  idx: MarkSource,
  from: number,
  to: number,
  probe = 128,
): Promise<[number, number][]> {
  // Binary search for the last line whose offset is <= from.
  let low = 0;
  let high = idx.size;
  while (high - low > probe) {
    const mid = Math.floor((low + high) / 2);
    const text = (await idx.read(mid, probe)).toString('latin1');
    const nl = text.indexOf('\n');
    const line = nl >= 0 ? text.slice(nl + 1).split('\n')[0] : undefined;
    const offset = line ? Number(line.split(' ')[0]) : NaN;
    if (line === undefined || !(offset <= from)) high = mid;
    else low = mid + nl + 1;
  }
  // Read forward from there, at most 4 MiB of marks (beyond that the last one read stands).
  const marks: [number, number][] = [];
  const data = await idx.read(low, Math.min(idx.size - low, 4 * 1024 * 1024));
  for (const line of data.toString('latin1').split('\n')) {
    const [offset, at] = line.split(' ').map(Number);
    if (offset === undefined || at === undefined || Number.isNaN(offset) || Number.isNaN(at)) continue;
    if (offset >= to) break;
    if (offset <= from && marks.length > 0) marks.length = 0;
    marks.push([offset, at]);
  }
  return marks;
}
