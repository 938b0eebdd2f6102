import pc from 'picocolors';
import type { RunStatus } from '../core/run/status.js';
import { formatDiagnostic, type Diagnostic } from '../core/config/diagnostics.js';

/** Exit codes of every command (docs/cli.md): */
export const EXIT = {
  /** the run or operation succeeded */
  ok: 0,
  /** the run failed, timed out or was canceled; the server refused the operation */
  failed: 1,
  /** usage or config error: fix the command line or the file */
  usage: 2,
  /** cannot reach the server, or not signed in (no server configured, token refused) */
  unreachable: 3,
} as const;

let onOutputClosed: (() => void) | undefined;

/** What to do when the reader of our output goes away (`| head`), instead of exiting at once. */
export function whenOutputCloses(handler: (() => void) | undefined): void {
  onOutputClosed = handler;
}

/** Runs the handler set by `whenOutputCloses`; whether there was one. */
export function outputClosed(): boolean {
  if (!onOutputClosed) return false;
  const handler = onOutputClosed;
  onOutputClosed = undefined;
  handler();
  return true;
}

/** A user-facing failure: printed as `error: message` with a hint, exit code 2. */
export class UsageError extends Error {
  readonly exitCode: number = EXIT.usage;
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

/** The server cannot be reached, or the CLI is not signed in: exit code 3. */
export class UnreachableError extends UsageError {
  override readonly exitCode: number = EXIT.unreachable;
}

export const printJson = (value: unknown): void =>
  void process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);

/**
 * Columns padded to their widest cell, a dim header on a terminal; without a terminal the same
 * columns without colour, so `awk` and `cut` work on them. Rows are cut to the terminal's width.
 */
export function printTable(
  headers: string[],
  rows: string[][],
  out: NodeJS.WriteStream = process.stdout,
): void {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  const cut = (text: string) =>
    out.isTTY && out.columns && text.length > out.columns ? `${text.slice(0, out.columns - 1)}…` : text;
  out.write(`${out.isTTY ? pc.dim(cut(line(headers))) : line(headers)}\n`);
  for (const row of rows) out.write(`${cut(line(row))}\n`);
}

/** Reads a line from the terminal without echoing it (for tokens and secrets). */
export function readHidden(prompt: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    // Echo off before the prompt shows: what is typed in answer to it is never displayed.
    stdin.setRawMode(true);
    process.stderr.write(prompt);
    stdin.resume();
    let value = '';
    const done = (error?: Error) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      process.stderr.write('\n');
      if (error) reject(error);
      else resolve(value);
    };
    const onData = (chunk: Buffer) => {
      for (const char of chunk.toString('utf8')) {
        if (char === '\r' || char === '\n') return done();
        if (char === '\x03') return done(new UsageError('canceled'));
        if (char === '\x7f' || char === '\b') value = value.slice(0, -1);
        else if (char >= ' ') value += char;
      }
    };
    stdin.on('data', onData);
  });
}

export function statusIcon(status: RunStatus, frame = 0): string {
  switch (status) {
    case 'success':
      return pc.green('✓');
    case 'failed':
      return pc.red('✗');
    case 'timeout':
      return pc.red('⏱');
    case 'canceled':
      return pc.yellow('⊘');
    case 'processing':
      return pc.cyan('⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏'[frame % 10] ?? '●');
    case 'created':
    case 'prepared':
      return pc.dim('○');
  }
}

export function colorStatus(status: RunStatus): string {
  switch (status) {
    case 'success':
      return pc.green(status);
    case 'failed':
    case 'timeout':
      return pc.red(status);
    case 'canceled':
      return pc.yellow(status);
    case 'processing':
      return pc.cyan(status);
    case 'created':
    case 'prepared':
      return pc.dim(status);
  }
}

export function printDiagnostics(
  diagnostics: readonly Diagnostic[],
  stream: NodeJS.WriteStream = process.stderr,
): void {
  for (const d of diagnostics) {
    const text = formatDiagnostic(d);
    stream.write(
      (d.severity === 'error'
        ? text.replace(': error:', `: ${pc.red('error')}:`)
        : text.replace(': warning:', `: ${pc.yellow('warning')}:`)) + '\n',
    );
  }
}

/** Parses repeated `NAME=VALUE` options. */
export function parseAssignments(values: readonly string[], option: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const value of values) {
    const eq = value.indexOf('=');
    if (eq <= 0) throw new UsageError(`${option} '${value}' is not NAME=VALUE`, `write ${option} NAME=VALUE`);
    out[value.slice(0, eq)] = value.slice(eq + 1);
  }
  return out;
}
