/** An answer the worker acts on: the status and the parsed JSON body (or undefined). */
export interface Answer<T = Record<string, unknown>> {
  status: number;
  body: T;
}

/** One lease of a task as the worker holds it; `signal` fires when the worker fenced itself. */
export interface Lease {
  taskId: string;
  epoch: number;
  token: string;
  signal: AbortSignal;
}

/** The lease is gone (409 LeaseLost): the worker must stop the task and write nothing more for it. */
export class LeaseLostError extends Error {}

export interface CallOptions {
  json?: unknown;
  body?: Buffer;
  headers?: Record<string, string>;
  /** The task token (else the worker token). */
  token?: string;
  /** Give up after this long of failing attempts (default: keep trying). */
  retryForMs?: number;
  signal?: AbortSignal;
  /**
   * Give up on one attempt after this long and try again (default 30 s, a file 5 min). Over a silent network
   * cut a request gets no error, only silence (the socket waits for headers for minutes), so
   * without it a heartbeat or an upload would hang until TCP gives up.
   */
  attemptMs?: number;
  /** Statuses that are answers, not failures to retry (default: every status below 500). */
  answers?: (status: number) => boolean;
  /** Answer the body as bytes (a file), not parsed JSON. */
  raw?: boolean;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const ATTEMPT_MS = 30_000;

/**
 * The worker's HTTP client: tries each server URL in turn, retries connection errors, 5xx and
 * 429 with jittered backoff (100 ms doubling to 2 s), and turns `LeaseLost` into LeaseLostError.
 */
export class WorkerClient {
  private current = 0;

  constructor(
    readonly servers: string[],
    private readonly token: string,
    private readonly log: (message: string) => void,
  ) {}

  get server(): string {
    return this.servers[this.current] ?? '';
  }

  async call<T = Record<string, unknown>>(
    method: string,
    path: string,
    options: CallOptions = {},
  ): Promise<Answer<T>> {
    const started = Date.now();
    let backoff = 100;
    let failures = 0;
    for (;;) {
      options.signal?.throwIfAborted();
      const attempt = AbortSignal.timeout(
        Math.ceil(options.attemptMs ?? (options.raw ? 10 * ATTEMPT_MS : ATTEMPT_MS)),
      );
      const signal = options.signal ? AbortSignal.any([options.signal, attempt]) : attempt;
      try {
        const response = await fetch(`${this.server}${path}`, {
          method,
          headers: {
            authorization: `Bearer ${options.token ?? this.token}`,
            ...(options.json !== undefined ? { 'content-type': 'application/json' } : {}),
            ...(options.body ? { 'content-type': 'application/octet-stream' } : {}),
            ...options.headers,
          },
          ...(options.json !== undefined ? { body: JSON.stringify(options.json) } : {}),
          ...(options.body ? { body: options.body } : {}),
          signal,
        });
        const bytes = Buffer.from(await response.arrayBuffer());
        const text = bytes.toString('utf8');
        let body: unknown = undefined;
        try {
          body = text ? JSON.parse(text) : undefined;
        } catch {
          body = text;
        }
        if (options.raw && response.status === 200) body = bytes;
        const code = (body as { error_code?: string } | undefined)?.error_code;
        if (code === 'LeaseLost') throw new LeaseLostError((body as { message?: string }).message);
        if ((options.answers ?? ((s: number) => s < 500 && s !== 429))(response.status))
          return { status: response.status, body: body as T };
        throw new Error(`HTTP ${response.status}: ${text.slice(0, 200)}`);
      } catch (error) {
        if (error instanceof LeaseLostError || options.signal?.aborted) throw error;
        failures++;
        const where = `${method} ${this.server}${path}`;
        if (this.servers.length > 1) this.current = (this.current + 1) % this.servers.length;
        if (options.retryForMs !== undefined && Date.now() - started >= options.retryForMs) throw error;
        if (failures === 1 || failures % 20 === 0) this.log(`${where}: ${describe(error)}; retrying`);
        await sleep(backoff / 2 + Math.random() * (backoff / 2));
        backoff = Math.min(2000, backoff * 2);
      }
    }
  }
}

/** An error in one line, with its cause (fetch puts the reason there). */
export function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  return error.cause instanceof Error ? `${error.message} (${error.cause.message})` : error.message;
}
