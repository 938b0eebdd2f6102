import type { LogLine, LogStore } from '../../ports/log-store.js';

/** Lines between two remembered offsets of the line index. */
const STRIDE = 1000;
/** A range or tail answer holds at most this many bytes of text (fewer lines than asked, then). */
export const MAX_ANSWER_BYTES = 4 * 1024 * 1024;

interface LineIndex {
  /** Byte offset of line k * STRIDE. */
  marks: number[];
  /** Lines and bytes scanned so far (complete lines only while the cube runs). */
  lines: number;
  offset: number;
  final: boolean;
}

/**
 * The lines of a cube's log for the log viewer, read by range (never the whole log at once): a
 * sparse index (the offset of every 1000th line, grown as the log grows) finds line N with one
 * range read; whole-log passes (outline, search, raw) stream it about 1 MiB at a time. While the
 * cube runs only complete lines are shown; its last line may still grow.
 */
export class LogLines {
  private readonly indexes = new Map<string, LineIndex>();

  constructor(
    private readonly logs: LogStore,
    private readonly maxEntries = 64,
  ) {}

  /** How many lines there are (scanning only what was written since the last call). */
  async total(runId: string, cubeId: string, done: boolean): Promise<number> {
    const index = await this.index(runId, cubeId, done);
    return index.lines;
  }

  /** `count` lines from line `from` (at most MAX_ANSWER_BYTES of text). */
  async range(runId: string, cubeId: string, done: boolean, from: number, count: number): Promise<LogLine[]> {
    const index = await this.index(runId, cubeId, done);
    const mark = Math.min(Math.floor(from / STRIDE), index.marks.length - 1);
    let n = mark * STRIDE;
    let offset = index.marks[mark] ?? 0;
    const out: LogLine[] = [];
    let bytes = 0;
    const last = Math.min(from + count, index.lines);
    while (n < last) {
      const got = await this.logs.readFrom(runId, cubeId, offset, index.final);
      if (got.next === offset) break;
      for (const line of got.lines) {
        if (n >= from && n < last) {
          bytes += line.text.length;
          if (bytes > MAX_ANSWER_BYTES && out.length > 0) return out;
          out.push(line);
        }
        n++;
      }
      offset = got.next;
    }
    return out;
  }

  /** Calls `visit` with every line in order (streamed); stops early when it returns false. */
  async each(
    runId: string,
    cubeId: string,
    done: boolean,
    visit: (line: LogLine, n: number) => boolean | void,
  ): Promise<number> {
    let n = 0;
    for (let offset = 0; ;) {
      const got = await this.logs.readFrom(runId, cubeId, offset, done);
      if (got.next === offset) return n;
      for (const line of got.lines) if (visit(line, n++) === false) return n;
      offset = got.next;
    }
  }

  private async index(runId: string, cubeId: string, done: boolean): Promise<LineIndex> {
    const key = `${runId}/${cubeId}`;
    let index = this.indexes.get(key);
    if (!index) {
      index = { marks: [0], lines: 0, offset: 0, final: false };
      if (this.indexes.size >= this.maxEntries) this.indexes.delete(this.indexes.keys().next().value ?? '');
      this.indexes.set(key, index);
    }
    if (index.final) return index;
    for (;;) {
      const got = await this.logs.readFrom(runId, cubeId, index.offset, done);
      if (got.next === index.offset) break;
      for (const end of got.ends) if (++index.lines % STRIDE === 0) index.marks.push(end);
      index.offset = got.next;
    }
    index.final = done;
    return index;
  }
}

export interface LogGroup {
  start: number;
  end: number;
  title: string;
}

/**
 * `::group::title` … `::endgroup::` sections (GitHub's workflow commands), nested ones included,
 * collected line by line as a log streams past (`add`), then `finish` with the number of lines.
 */
export class Outline {
  private readonly groups: LogGroup[] = [];
  private readonly open: { start: number; title: string }[] = [];

  add(text: string, i: number): void {
    const clean = text.replace(/\r$/, '');
    if (clean.startsWith('::group::')) this.open.push({ start: i, title: clean.slice('::group::'.length) });
    else if (clean.startsWith('::endgroup::')) {
      const g = this.open.pop();
      if (g) this.groups.push({ start: g.start, end: i, title: g.title });
    }
  }

  finish(total: number): LogGroup[] {
    // Unclosed groups (a running cube, or a missing ::endgroup::) run to the last line.
    const all = [...this.groups, ...this.open.map((g) => ({ ...g, end: total - 1 }))];
    return all.sort((a, b) => a.start - b.start);
  }
}

/** Strips ANSI escape sequences so searches match what the page shows. */
export function plain(text: string): string {
  if (!text.includes('\u001b')) return text; // most lines: no regular expression pass at all
  // eslint-disable-next-line no-control-regex
  return text.replace(/\u001b\[[0-9;?]*[ -/]*[@-~]|\u001b\][^\u0007]*\u0007/g, '');
}
