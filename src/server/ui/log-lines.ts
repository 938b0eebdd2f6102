import type { LogLine, LogStore } from '../../ports/log-store.js';

/**
 * The lines of a cube's log, parsed once per size: the pages of the log viewer (ranges, search,
 * outline) ask many times while the log does not change, and a finished log never changes.
 * While the cube runs its last line may still grow, so callers get only complete lines then.
 */
export class LogLines {
  private readonly cache = new Map<string, { size: number; lines: LogLine[] }>();

  constructor(
    private readonly logs: LogStore,
    private readonly maxEntries = 4,
  ) {}

  async lines(runId: string, cubeId: string, done: boolean): Promise<LogLine[]> {
    const key = `${runId}/${cubeId}`;
    const size = await this.logs.size(runId, cubeId);
    let entry = this.cache.get(key);
    if (!entry || entry.size !== size) {
      entry = { size, lines: await this.logs.read(runId, cubeId) };
      this.cache.delete(key);
      if (this.cache.size >= this.maxEntries) this.cache.delete(this.cache.keys().next().value ?? '');
      this.cache.set(key, entry);
    }
    return done ? entry.lines : entry.lines.slice(0, completeLines(entry.lines, size));
  }
}

/**
 * How many of a running cube's lines are complete: all of them when the stored bytes end with a
 * newline (each line took its length plus one byte), else all but the last, which may still grow.
 */
export function completeLines(lines: readonly LogLine[], size: number): number {
  let bytes = 0;
  for (const line of lines) bytes += Buffer.byteLength(line.text) + 1;
  return bytes === size ? lines.length : Math.max(0, lines.length - 1);
}

/** `::group::title` … `::endgroup::` sections (GitHub's workflow commands), nested ones included. */
export function outline(lines: readonly LogLine[]): { start: number; end: number; title: string }[] {
  const groups: { start: number; end: number; title: string }[] = [];
  const open: { start: number; title: string }[] = [];
  lines.forEach((line, i) => {
    const text = line.text.replace(/\r$/, '');
    if (text.startsWith('::group::')) open.push({ start: i, title: text.slice('::group::'.length) });
    else if (text.startsWith('::endgroup::')) {
      const g = open.pop();
      if (g) groups.push({ start: g.start, end: i, title: g.title });
    }
  });
  // Unclosed groups (a running cube, or a missing ::endgroup::) run to the last line.
  for (const g of open) groups.push({ start: g.start, end: lines.length - 1, title: g.title });
  return groups.sort((a, b) => a.start - b.start);
}

/** Strips ANSI escape sequences so searches match what the page shows. */
export function plain(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\u001b\[[0-9;?]*[ -/]*[@-~]|\u001b\][^\u0007]*\u0007/g, '');
}
