import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { ParseResult } from '../core/config/parse-config.js';
import { CONFIG_MAX_BYTES } from '../core/config/parse-config.js';
import { parseConfigFile } from './load-config.js';

/** A config that takes longer than this to parse is refused (the worker is ended). */
export const PARSE_TIMEOUT_MS = 10_000;

interface Pending {
  resolve: (result: ParseResult) => void;
  timer: NodeJS.Timeout;
  file: string;
}

/**
 * Parses configs on a worker thread, so a large or hostile config never stalls the server's event
 * loop (D5): one worker, requests queued, each capped at PARSE_TIMEOUT_MS and by a heap limit; a
 * worker that times out or dies is replaced. Texts over the size limit never reach it.
 */
export class ConfigParserPool {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;

  constructor(private readonly timeoutMs = PARSE_TIMEOUT_MS) {}

  async parse(text: string, file: string): Promise<ParseResult> {
    // Small configs (nearly all) cost less to parse here than to send to the worker and back.
    if (text.length < 16 * 1024 || text.length > CONFIG_MAX_BYTES) return parseConfigFile(text, file);
    const worker = this.ensure();
    if (!worker) return parseConfigFile(text, file);
    const id = this.nextId++;
    return new Promise<ParseResult>((resolve) => {
      const timer = setTimeout(() => {
        this.fail(
          `parsing the config took longer than ${this.timeoutMs / 1000} s; it was stopped`,
          'make the config smaller or simpler (fewer anchors and aliases)',
        );
      }, this.timeoutMs);
      this.pending.set(id, { resolve, timer, file });
      worker.postMessage({ id, text, file });
    });
  }

  /** Ends the worker; pending parses answer with an error. */
  close(): void {
    this.fail('the server is stopping', undefined);
  }

  private ensure(): Worker | undefined {
    if (this.worker) return this.worker;
    const script = workerScript();
    if (!script) return undefined;
    const worker = new Worker(script, { resourceLimits: { maxOldGenerationSizeMb: 512 } });
    worker.on('message', (message: { id: number; result: ParseResult }) => {
      const entry = this.pending.get(message.id);
      if (!entry) return;
      clearTimeout(entry.timer);
      this.pending.delete(message.id);
      entry.resolve(message.result);
    });
    worker.on('error', (error) => this.fail(`the config parser failed: ${error.message}`, undefined));
    worker.on('exit', () => {
      if (this.worker === worker) this.worker = undefined;
    });
    // After the listeners: attaching one refs the worker's port again.
    worker.unref();
    this.worker = worker;
    return worker;
  }

  private fail(message: string, hint: string | undefined): void {
    const worker = this.worker;
    this.worker = undefined;
    void worker?.terminate();
    for (const [id, entry] of this.pending) {
      clearTimeout(entry.timer);
      this.pending.delete(id);
      entry.resolve({
        diagnostics: [
          { severity: 'error', file: entry.file, line: 1, column: 1, message, ...(hint ? { hint } : {}) },
        ],
      });
    }
  }
}

/** The worker's file: next to this module (tsc output), or next to the bundle (dist/). */
function workerScript(): URL | undefined {
  for (const name of ['./config-worker.js', './config-worker.mjs']) {
    const url = new URL(name, import.meta.url);
    if (existsSync(fileURLToPath(url))) return url;
  }
  return undefined;
}

/** The process's parser: one worker thread, started on first use, never holding the process open. */
export const configParser = new ConfigParserPool();
