import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { UnreachableError, UsageError } from './output.js';

export interface ClientConfig {
  server: string;
  token: string;
}

/** An error answer of the API, with its `ApiErrorResponse` body. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly requestId: string,
  ) {
    super(message);
  }
}

export function configFile(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'conveyor', 'config.json');
}

export function saveConfig(config: ClientConfig, env: NodeJS.ProcessEnv = process.env): string {
  const file = configFile(env);
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return file;
}

/** Forgets what `conveyor login` stored; whether there was anything. */
export function clearConfig(env: NodeJS.ProcessEnv = process.env): boolean {
  const file = configFile(env);
  try {
    readFileSync(file);
  } catch {
    return false;
  }
  rmSync(file, { force: true });
  return true;
}

/** Server and token: CONVEYOR_SERVER / CONVEYOR_TOKEN override what `conveyor login` stored. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, needToken = true): ClientConfig {
  let stored: Partial<ClientConfig> = {};
  try {
    stored = JSON.parse(readFileSync(configFile(env), 'utf8')) as Partial<ClientConfig>;
  } catch {
    // not logged in yet
  }
  const server = env.CONVEYOR_SERVER || stored.server;
  const token = env.CONVEYOR_TOKEN || stored.token;
  if (!server || (needToken && !token))
    throw new UnreachableError(
      server ? `not logged in to ${server}` : 'no server configured',
      'run `conveyor login --server URL` (it asks for the token) or set CONVEYOR_SERVER and CONVEYOR_TOKEN',
    );
  return { server: server.replace(/\/+$/, ''), token: token ?? '' };
}

/** A small typed client of Conveyor's API (JSON in, JSON out, errors as ApiError). */
export class ApiClient {
  constructor(private readonly config: ClientConfig) {}

  get server(): string {
    return this.config.server;
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await this.raw(method, path, body);
    if (response.status === 204) return undefined as T;
    return (await response.json()) as T;
  }

  async raw(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<Response> {
    let response: Response;
    try {
      response = await fetch(`${this.config.server}${path}`, {
        method,
        headers: {
          ...(this.config.token ? { authorization: `Bearer ${this.config.token}` } : {}),
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...headers,
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
    } catch (error) {
      throw new UnreachableError(
        `cannot reach ${this.config.server}: ${error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error)}`,
        'is the server running? `conveyor ping --wait` waits for it; check --server / CONVEYOR_SERVER',
      );
    }
    if (response.ok) return response;
    let parsed: { error_code?: string; message?: string; request_id?: string } = {};
    try {
      parsed = (await response.json()) as typeof parsed;
    } catch {
      // not JSON
    }
    throw new ApiError(
      response.status,
      parsed.error_code ?? `HTTP ${response.status}`,
      parsed.message ?? response.statusText,
      parsed.request_id ?? '',
    );
  }
}

/** `org/repo` as its two parts; a usage error otherwise. */
export function splitRepo(value: string | undefined): [string, string] {
  const match = value ? /^([^/\s]+)\/([^/\s]+)$/.exec(value) : null;
  if (!match) {
    if (!value)
      throw new UsageError(
        'which repository? none given and none found for this directory',
        'pass --repo ORG/REPO, set CONVEYOR_REPO, or run `conveyor repos link ORG/REPO` in your checkout',
      );
    throw new UsageError(`repository '${value}' is not ORG/REPO`, 'e.g. --repo acme/demo');
  }
  return [match[1] ?? '', match[2] ?? ''];
}

/** `org/repo` into the API's path prefix. */
export function repoPrefix(repo: string | undefined): string {
  const [org, slug] = splitRepo(repo ?? process.env.CONVEYOR_REPO);
  return `/repos/${encodeURIComponent(org)}/${encodeURIComponent(slug)}`;
}
