import pc from 'picocolors';
import { formatDuration } from '../../core/config/duration.js';
import type { RunRecord } from '../../core/run/model.js';
import type { RunJson } from '../../transport/run-json.js';
import { isTerminal, type RunStatus } from '../../core/run/status.js';
import type { EngineListener } from '../../app/run-engine.js';
import { statusIcon } from '../output.js';

/** What the tree shows of a run: a local RunRecord, or a server's Run (see `treeFromJson`). */
interface TreeDates {
  startedAt?: number;
  finishedAt?: number;
}
interface TreeCube {
  slug: string;
  status: RunStatus;
  dates: TreeDates;
  errorMessage?: string;
}
export interface TreeRun {
  slug: string;
  status: RunStatus;
  dates: TreeDates;
  workflows: {
    slug: string;
    status: RunStatus;
    dates: TreeDates;
    tasks: { slug: string; status: RunStatus; dates: TreeDates; cubes: TreeCube[] }[];
  }[];
}

const ms = (iso: string | undefined) => (iso ? Date.parse(iso) : undefined);
const datesOf = (d: { started_at?: string; finished_at?: string }): TreeDates => {
  const startedAt = ms(d.started_at);
  const finishedAt = ms(d.finished_at);
  return {
    ...(startedAt !== undefined ? { startedAt } : {}),
    ...(finishedAt !== undefined ? { finishedAt } : {}),
  };
};

/** A server's Run (SourceCraft JSON) as the tree `conveyor run` draws. */
export function treeFromJson(run: RunJson): TreeRun {
  return {
    slug: run.slug,
    status: run.status,
    dates: datesOf(run.dates),
    workflows: run.workflows.map((w) => ({
      slug: w.slug,
      status: w.status,
      dates: datesOf(w.dates),
      tasks: w.tasks.map((t) => ({
        slug: t.slug,
        status: t.status,
        dates: datesOf(t.dates),
        cubes: t.cubes.map((c) => ({
          slug: c.slug,
          status: c.status,
          dates: datesOf(c.dates),
          ...(c.error_message ? { errorMessage: c.error_message } : {}),
        })),
      })),
    })),
  };
}

// eslint-disable-next-line no-control-regex
const ANSI_CODE = /\x1b\[[0-9;]*m/g;

/**
 * The live view of `conveyor run` on a terminal: workflows and tasks with their status and
 * duration, the running cubes with their last log line, and cubes that failed, redrawn in place.
 * Every cube is listed while the whole tree fits the screen; when it does not, the finished cubes
 * of a task are summed up as a count, so large runs fit too.
 */
export class LiveTree implements EngineListener {
  private readonly lastLine = new Map<string, string>();
  private readonly partial = new Map<string, string>();
  private run: TreeRun | undefined;
  private drawn = 0;
  private frame = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly out: NodeJS.WriteStream,
    private readonly now: () => number = Date.now,
  ) {}

  start(run: TreeRun): void {
    this.run = run;
    this.timer = setInterval(() => this.draw(), 100);
    this.draw();
  }

  stop(): void {
    clearInterval(this.timer);
    this.draw();
  }

  onStatus(_kind: string, _path: string[], _status: RunStatus, run: RunRecord): void {
    this.run = run;
  }

  /** A line printed above the tree, kept when the tree is redrawn (the tree would wipe it). */
  note(text: string): void {
    const up = this.drawn > 0 ? `\x1b[${this.drawn}A` : '';
    this.out.write(`${up}\r\x1b[0J${text}\n`);
    this.drawn = 0;
    this.draw();
  }

  /** A newer state of the run (from a server's event stream). */
  update(run: TreeRun): void {
    this.run = run;
  }

  onOutput(path: string[], chunk: Buffer): void {
    // A chunk may end inside a line: the unfinished part is shown, and completed by the next chunk.
    const key = path.join('/');
    const text = (this.partial.get(key) ?? '') + chunk.toString('utf8');
    const end = text.lastIndexOf('\n');
    this.partial.set(key, end < 0 ? text : text.slice(end + 1));
    const lines = text.split('\n').filter((l) => l.trim() !== '');
    const last = lines.at(-1);
    if (last !== undefined) this.lastLine.set(key, last.replace(/\r/g, '').replace(ANSI_CODE, ''));
  }

  private draw(): void {
    if (!this.run) return;
    this.frame++;
    const width = this.out.columns || 100;
    const maxRows = Math.max(5, (this.out.rows || 40) - 2);
    const every = this.render(this.run, true);
    const lines = (every.length <= maxRows ? every : this.render(this.run, false)).map((l) =>
      truncate(l, width - 1),
    );
    const shown =
      lines.length > maxRows
        ? [...lines.slice(0, maxRows - 1), pc.dim(`… ${lines.length - maxRows + 1} more lines`)]
        : lines;
    const up = this.drawn > 0 ? `\x1b[${this.drawn}A` : '';
    this.out.write(`${up}\r\x1b[0J${shown.join('\n')}\n`);
    this.drawn = shown.length;
  }

  /** The tree's lines: with `everyCube`, finished cubes too; else only running and failed ones. */
  render(run: TreeRun, everyCube = false): string[] {
    const lines = [
      `${statusIcon(run.status, this.frame)} Run ${run.slug} ${pc.dim(this.duration(run.dates, run.status))}`,
    ];
    for (const workflow of run.workflows) {
      lines.push(
        `  ${statusIcon(workflow.status, this.frame)} ${pc.bold(workflow.slug)} ${pc.dim(this.duration(workflow.dates, workflow.status))}`,
      );
      for (const task of workflow.tasks) {
        const done = task.cubes.filter((c) => isTerminal(c.status)).length;
        lines.push(
          `    ${statusIcon(task.status, this.frame)} ${task.slug} ${pc.dim(`${done}/${task.cubes.length} cubes  ${this.duration(task.dates, task.status)}`)}`,
        );
        for (const cube of task.cubes) {
          if (!everyCube && !this.shows(cube)) continue;
          const last =
            cube.status === 'processing'
              ? this.lastLine.get(`${workflow.slug}/${task.slug}/${cube.slug}`)
              : cube.errorMessage;
          lines.push(
            `      ${statusIcon(cube.status, this.frame)} ${cube.slug} ${pc.dim(this.duration(cube.dates, cube.status))}${last ? pc.dim(`  │ ${last}`) : ''}`,
          );
        }
      }
    }
    return lines;
  }

  private shows(cube: TreeCube): boolean {
    return (
      cube.status === 'processing' ||
      (isTerminal(cube.status) && cube.status !== 'success' && !cube.errorMessage?.startsWith('not started'))
    );
  }

  private duration(dates: TreeDates, status: RunStatus): string {
    if (dates.startedAt === undefined) return '';
    const end = isTerminal(status) ? (dates.finishedAt ?? this.now()) : this.now();
    return formatDuration(end - dates.startedAt);
  }
}

function truncate(line: string, width: number): string {
  // Width is measured without color codes; cut the visible text, keep the reset at the end.

  const visible = line.replace(ANSI_CODE, '');
  if (visible.length <= width) return line;
  let count = 0;
  let out = '';
  for (let i = 0; i < line.length && count < width - 1; i++) {
    const esc = line[i] === '\x1b' ? /^.\[[0-9;]*m/.exec(line.slice(i)) : null;
    if (esc) {
      out += esc[0];
      i += esc[0].length - 1;
      continue;
    }
    out += line[i];
    count++;
  }
  return `${out}…\x1b[0m`;
}
