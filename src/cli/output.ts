import pc from 'picocolors';
import type { RunStatus } from '../core/run/status.js';
import { formatDiagnostic, type Diagnostic } from '../core/config/diagnostics.js';

/** A user-facing failure: printed as `error: message` with a hint, exit code 2. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
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
