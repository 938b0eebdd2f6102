import { api } from '../lib/api.js';

export const CHUNK = 2000;

export interface Group {
  start: number;
  end: number;
  title: string;
}

/**
 * The lines of one cube's log as far as the page knows them: `total` complete lines, of which the
 * ones near what is on screen are loaded (in chunks of CHUNK, on demand), plus every line the
 * stream delivered. Lines are numbered from 0. `append` drops a line it already has and counts
 * gaps, so a reconnecting stream cannot duplicate or silently lose lines.
 */
export class LogModel {
  total = 0;
  done = false;
  status = '';
  groups: Group[] = [];
  duplicates = 0;
  gaps = 0;
  private readonly at = new Map<number, number[]>();
  private readonly text = new Map<number, string[]>();
  private readonly loading = new Map<number, Promise<void>>();
  private openGroups: { start: number; title: string }[] = [];

  constructor(
    readonly base: string,
    private readonly changed: () => void,
  ) {}

  line(i: number): { at: number; text: string } | undefined {
    const c = Math.floor(i / CHUNK);
    const text = this.text.get(c)?.[i - c * CHUNK];
    if (text === undefined) return undefined;
    return { at: this.at.get(c)?.[i - c * CHUNK] ?? 0, text };
  }

  /** Loads the tail (at attach: the last lines first, earlier ones as the user scrolls up). */
  async open(tail: number): Promise<void> {
    const r = await api<Lines>('GET', `${this.base}/lines?tail=${tail}`);
    this.take(r);
    // The outline scans the whole log: the tail is shown first, the groups fold once it arrives.
    void api<{ groups: Group[]; total: number }>('GET', `${this.base}/outline`).then(
      (o) => {
        const live = this.groups; // groups that started in lines streamed meanwhile
        this.groups = [
          ...o.groups.filter((g) => g.start < r.total),
          ...live.filter((g) => g.start >= r.total),
        ];
        this.openGroups = [
          ...o.groups.filter((g) => g.end >= r.total - 1 && !r.done).map((g) => ({ ...g })),
          ...this.openGroups.filter((g) => g.start >= r.total),
        ];
        this.changed();
      },
      () => undefined,
    );
  }

  /** Makes sure lines [from, to) are loaded. */
  async ensure(from: number, to: number): Promise<void> {
    const jobs: Promise<void>[] = [];
    for (let c = Math.floor(Math.max(0, from) / CHUNK); c * CHUNK < Math.min(to, this.total); c++) {
      const have = this.text.get(c);
      const want = Math.min(CHUNK, this.total - c * CHUNK);
      if (have && have.filter((x) => x !== undefined).length >= want) continue;
      let job = this.loading.get(c);
      if (!job) {
        job = api<Lines>('GET', `${this.base}/lines?from=${c * CHUNK}&count=${CHUNK}`)
          .then((r) => this.take(r, false))
          .finally(() => this.loading.delete(c));
        this.loading.set(c, job);
      }
      jobs.push(job);
    }
    if (jobs.length) {
      await Promise.all(jobs);
      this.changed();
    }
  }

  /** A line from the stream: line `n` is expected next; an earlier one is a duplicate. */
  append(n: number, at: number, text: string): void {
    if (n < this.total) {
      this.duplicates++;
      return;
    }
    if (n > this.total) this.gaps += n - this.total;
    this.put(n, at, text);
    this.total = n + 1;
    this.track(n, text);
  }

  private take(r: Lines, grow = true): void {
    r.lines.forEach(([at, text], k) => this.put(r.from + k, at, text));
    if (grow || r.total > this.total) this.total = Math.max(this.total, r.total);
    this.done = r.done;
    this.status = r.status;
  }

  private put(i: number, at: number, text: string): void {
    const c = Math.floor(i / CHUNK);
    let ats = this.at.get(c);
    let texts = this.text.get(c);
    if (!ats || !texts) {
      ats = [];
      texts = [];
      this.at.set(c, ats);
      this.text.set(c, texts);
    }
    ats[i - c * CHUNK] = at;
    texts[i - c * CHUNK] = text;
  }

  /** Keeps the outline up to date as `::group::` lines arrive live. */
  private track(n: number, text: string): void {
    if (text.startsWith('::group::')) {
      const g = { start: n, end: n, title: text.slice(9) };
      this.openGroups.push(g);
      this.groups.push(g);
    } else if (text.startsWith('::endgroup::')) {
      const g = this.openGroups.pop();
      const known = g && this.groups.find((x) => x.start === g.start);
      if (known) known.end = n;
    } else for (const g of this.groups) if (this.openGroups.some((o) => o.start === g.start)) g.end = n;
  }
}

interface Lines {
  from: number;
  total: number;
  done: boolean;
  status: string;
  lines: [number, string][];
}

/** Which lines a set of collapsed groups hides: sorted, merged [first, last] intervals. */
export function hiddenRanges(groups: readonly Group[], collapsed: ReadonlySet<number>): [number, number][] {
  const ranges = groups
    .filter((g) => collapsed.has(g.start) && g.end > g.start)
    .map((g) => [g.start + 1, g.end] as [number, number])
    .sort((a, b) => a[0] - b[0]);
  const merged: [number, number][] = [];
  for (const r of ranges) {
    const last = merged[merged.length - 1];
    if (last && r[0] <= last[1] + 1) last[1] = Math.max(last[1], r[1]);
    else merged.push([r[0], r[1]]);
  }
  return merged;
}

export function rowToLine(row: number, hidden: readonly [number, number][]): number {
  let line = row;
  for (const [a, b] of hidden) {
    if (line < a) break;
    line += b - a + 1;
  }
  return line;
}

export function lineToRow(line: number, hidden: readonly [number, number][]): number {
  let row = line;
  for (const [a, b] of hidden) {
    if (line < a) break;
    if (line <= b) return a - 1 - (line - row); // inside a collapsed group: its header's row
    row -= b - a + 1;
  }
  return row;
}
