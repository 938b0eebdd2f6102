import pc from 'picocolors';
import type { EngineListener, NodeKind } from '../../app/run-engine.js';
import type { RunRecord } from '../../core/run/model.js';
import type { RunStatus } from '../../core/run/status.js';
import { PlainLines } from './plain-lines.js';

/**
 * `conveyor run --logs`: every line a cube prints, prefixed by `[workflow/task/cube]` as act does,
 * between the plain status lines. A chunk's unfinished last line waits for the rest of it.
 */
export class LogLines implements EngineListener {
  private readonly status: PlainLines;
  private readonly partial = new Map<string, string>();

  constructor(
    private readonly out: NodeJS.WritableStream,
    private readonly mask: (text: string) => string = (t) => t,
  ) {
    this.status = new PlainLines(out);
  }

  onStatus(kind: NodeKind, path: string[], status: RunStatus, run: RunRecord): void {
    if (kind === 'cube' && status !== 'processing') this.flush(path);
    this.status.onStatus(kind, path, status, run);
  }

  onOutput(path: string[], chunk: Buffer): void {
    const key = path.join('/');
    const text = (this.partial.get(key) ?? '') + chunk.toString('utf8');
    const lines = text.split('\n');
    this.partial.set(key, lines.pop() ?? '');
    for (const line of lines) this.write(key, line);
  }

  private flush(path: string[]): void {
    const key = path.join('/');
    const rest = this.partial.get(key);
    if (rest) this.write(key, rest);
    this.partial.delete(key);
  }

  private write(key: string, line: string): void {
    this.out.write(`${pc.dim(`[${key}]`)} ${this.mask(line.replace(/\r$/, ''))}\n`);
  }
}
