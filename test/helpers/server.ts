import { startServer, type RunningServer } from '../../src/server/start-server.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { CONTAINER_ENV, CONVEYOR, waitFor } from './cli.js';
import { tempDir } from './repo.js';

export const ADMIN_TOKEN = 'test-admin-token-0123456789';

export interface TestServer {
  server: RunningServer;
  url: string;
  dataDir: string;
  /** Real time plus an offset the test may move forward. */
  clock: { now(): number; offsetMs: number };
  api<T = Record<string, unknown>>(
    method: string,
    path: string,
    body?: unknown,
    token?: string | null,
  ): Promise<ApiAnswer<T>>;
  close(): Promise<void>;
}

export interface ApiAnswer<T> {
  status: number;
  body: T;
  headers: Headers;
}

/** A real server on a loopback port (port 0), with its own data dir and, optionally, PostgreSQL. */
export async function startTestServer(
  options: {
    databaseUrl?: string;
    /** `--blob-store` (default: the data dir). */
    blobStore?: string;
    env?: Record<string, string>;
    artifactUrlTtlMs?: number;
    dataDir?: string;
    offsetMs?: number;
    /** A fixed port (a restarted server must come back where the browser's streams reconnect). */
    port?: number;
    /** `--embedded-workers N` (the server's default when absent). */
    embeddedWorkers?: number;
    /** The address to listen on (default 127.0.0.1), e.g. the root end of a test's veth pair. */
    host?: string;
    /** Runs executing at once (0: a replica that only serves requests and workers). */
    concurrency?: number;
  } = {},
): Promise<TestServer> {
  const dataDir = options.dataDir ?? tempDir('conveyor-server-');
  const clock = { offsetMs: options.offsetMs ?? 0, now: () => Date.now() + clock.offsetMs };
  const server = await startServer({
    host: options.host ?? '127.0.0.1',
    port: options.port ?? 0,
    dataDir,
    ...(options.databaseUrl ? { databaseUrl: options.databaseUrl } : {}),
    ...(options.blobStore ? { blobStore: options.blobStore } : {}),
    triggerTickMs: 100,
    dispatchPollMs: 200,
    leaseMs: 5000,
    clock,
    ...(options.embeddedWorkers !== undefined ? { embeddedWorkers: options.embeddedWorkers } : {}),
    ...(options.artifactUrlTtlMs ? { artifactUrlTtlMs: options.artifactUrlTtlMs } : {}),
    ...(options.concurrency !== undefined ? { concurrency: options.concurrency } : {}),
    env: {
      ...process.env,
      ...CONTAINER_ENV,
      CONVEYOR_ADMIN_TOKEN: ADMIN_TOKEN,
      CONVEYOR_SECRET_KEY: 'test-secret-key-0123456789',
      ...options.env,
    },
    log: () => undefined,
  });
  const api = async <T>(
    method: string,
    path: string,
    body?: unknown,
    token: string | null = ADMIN_TOKEN,
  ): Promise<ApiAnswer<T>> => {
    const response = await fetch(`${server.url}${path}`, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      // not JSON
    }
    return { status: response.status, body: parsed as T, headers: response.headers };
  };
  return { server, url: server.url, dataDir, clock, api, close: () => server.close(5000) };
}

/** Registers an org and a repository cloned from `cloneUrl`; returns the repository's JSON. */
export async function registerRepo(
  t: TestServer,
  cloneUrl: string,
  options: { org?: string; slug?: string; poll?: number } = {},
) {
  const org = options.org ?? 'acme';
  const created = await t.api('POST', '/orgs', { slug: org, name: org });
  if (created.status !== 201 && created.status !== 409)
    throw new Error(`org: ${JSON.stringify(created.body)}`);
  const repo = await t.api<{ id: string; slug: string; webhook_secret: string }>(
    'POST',
    `/orgs/${org}/repos`,
    {
      name: options.slug ?? 'app',
      slug: options.slug ?? 'app',
      clone_url: cloneUrl,
      poll_interval_seconds: options.poll ?? 0,
    },
  );
  if (repo.status !== 201) throw new Error(`repo: ${JSON.stringify(repo.body)}`);
  return repo.body;
}

/**
 * `conveyor server` as a process of its own (to be killed or restarted as a real server is), with
 * the test environment plus `env`; resolves once it listens, with the URL it printed.
 */
export async function serverProcess(
  args: string[],
  env: Record<string, string>,
  startMs = 30_000,
): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  const child = spawn(CONVEYOR, ['server', ...args], {
    env: { ...process.env, ...CONTAINER_ENV, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const url = await waitFor(
    () => /listening on (http:\/\/\S+)/.exec(out)?.[1],
    'the server to start',
    startMs,
  );
  return { child, url, output: () => out };
}
