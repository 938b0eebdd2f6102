import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { benchRepo, CONVEYOR } from './harness.js';

/** Helpers of the worker benchmarks (bench/workers-bench.ts): real `conveyor server` and `conveyor worker` processes. */

export const TOKEN = 'bench-admin-token-0123456789';
/** The tag the benchmark's workers have and its tasks ask for, so no other worker takes them. */
export const TAG = 'bench';

export type Api = <T>(method: string, path: string, body?: unknown) => Promise<T>;

export function api(url: string): Api {
  return async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const response = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${TOKEN}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
    return (await response.json()) as T;
  };
}

export interface Proc {
  child: ChildProcess;
  pid: number;
  output(): string;
  /** SIGTERM, SIGKILL after `graceMs`; resolves once it exited. */
  close(graceMs?: number): Promise<void>;
}

function proc(child: ChildProcess, cleanup: () => void = () => undefined): Proc {
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    pid: child.pid ?? 0,
    output: () => out,
    close: async (graceMs = 3000) => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
      cleanup();
    },
  };
}

async function until(p: Proc, pattern: RegExp, what: string, ms = 30_000): Promise<RegExpExecArray> {
  const deadline = Date.now() + ms;
  for (;;) {
    const found = pattern.exec(p.output());
    if (found) return found;
    if (p.child.exitCode !== null || Date.now() > deadline)
      throw new Error(`${what}: ${p.child.exitCode !== null ? 'exited' : 'timed out'}\n${p.output()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export interface ServerProc extends Proc {
  url: string;
  api: Api;
  dataDir: string;
}

/** `conveyor server` as its own process (PostgreSQL when `databaseUrl` is set), on a free loopback port. */
export async function startServerProc(
  o: { databaseUrl?: string; replicaId?: string; env?: Record<string, string> } = {},
): Promise<ServerProc> {
  const dataDir = mkdtempSync(join(tmpdir(), 'conveyor-bench-workers-'));
  const child = spawn(CONVEYOR, ['server', '--port', '0', '--data-dir', dataDir], {
    env: {
      ...process.env,
      CONVEYOR_ADMIN_TOKEN: TOKEN,
      CONVEYOR_LOG_LEVEL: 'warn',
      ...(o.databaseUrl ? { CONVEYOR_DATABASE_URL: o.databaseUrl } : {}),
      ...(o.replicaId ? { CONVEYOR_REPLICA_ID: o.replicaId } : {}),
      ...o.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const p = proc(child, () => rmSync(dataDir, { recursive: true, force: true }));
  const url = (await until(p, /listening on (\S+)/, 'server start'))[1] ?? '';
  return { ...p, url, api: api(url), dataDir };
}

export interface WorkerProc extends Proc {
  name: string;
  workDir: string;
}

/** `conveyor worker` as its own process, tagged `bench`, waiting until it is connected. */
export async function startWorkerProc(
  servers: string[],
  token: string,
  name: string,
  o: { slots?: number; workDir?: string } = {},
): Promise<WorkerProc> {
  const workDir = o.workDir ?? mkdtempSync(join(tmpdir(), 'conveyor-bench-worker-'));
  const args = ['worker', '--server', servers.join(','), '--name', name, '--tags', TAG];
  args.push('--slots', String(o.slots ?? 1), '--work-dir', workDir);
  const child = spawn(CONVEYOR, args, {
    env: { ...process.env, CONVEYOR_WORKER_TOKEN: token, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const p = proc(child);
  await until(p, new RegExp(`worker ${name} connected`), `worker ${name}`);
  return { ...p, name, workDir };
}

/** Registers org `b` and repository `r` holding `.conveyor/ci.yaml`; answers a new worker token. */
export async function setUp(server: ServerProc, config: string): Promise<string> {
  await server.api('POST', '/orgs', { slug: 'b', name: 'B' });
  await server.api('POST', '/orgs/b/repos', {
    slug: 'r',
    name: 'R',
    clone_url: benchRepo({ '.conveyor/ci.yaml': config }),
    poll_interval_seconds: 0,
  });
  return (await server.api<{ token: string }>('POST', '/workers/tokens', { note: 'bench' })).token;
}

export interface RunJson {
  id: string;
  slug: string;
  status: string;
  workflows: {
    slug: string;
    tasks: {
      slug: string;
      dates: { started_at?: string };
      cubes: { slug: string; dates: { started_at?: string } }[];
    }[];
  }[];
}

/** Starts a run of `workflow`; answers its slug. */
export async function startRun(server: ServerProc, workflow: string): Promise<string> {
  const run = await server.api<{ slug: string }>('POST', '/repos/b/r/cicd/runs', {
    workflows: [{ name: workflow }],
  });
  return run.slug;
}

/** Waits for the run's end on its event stream (which ends with the run); answers the run. */
export async function finishRun(server: ServerProc, slug: string, timeoutMs = 60_000): Promise<RunJson> {
  try {
    const events = await fetch(`${server.url}/repos/b/r/cicd/runs/${slug}/events`, {
      headers: { authorization: `Bearer ${TOKEN}` },
      signal: AbortSignal.timeout(timeoutMs),
    });
    await events.text();
  } catch (error) {
    if ((error as Error).name !== 'TimeoutError') throw error;
    const run = await server.api<RunJson>('GET', `/repos/b/r/cicd/runs/${slug}`);
    throw new Error(`run ${slug} did not end within ${timeoutMs / 1000} s (it is ${run.status})`, {
      cause: error,
    });
  }
  const run = await server.api<RunJson>('GET', `/repos/b/r/cicd/runs/${slug}`);
  if (run.status !== 'success') throw new Error(`run ${slug} ended ${run.status}: ${JSON.stringify(run)}`);
  return run;
}

export async function cubeLog(server: ServerProc, slug: string, path: string): Promise<string> {
  return (await server.api<{ logs: string }>('GET', `/repos/b/r/cicd/logs/${slug}/${path}`)).logs;
}

/** Wall-clock ms of `start <EPOCHREALTIME>` the cube printed. */
export function stamp(log: string, what = 'start'): number {
  const found = new RegExp(`${what} (\\d+)[.,](\\d+)`).exec(log);
  if (!found) throw new Error(`no "${what}" stamp in the log: ${log.slice(0, 200)}`);
  return Number(`${found[1]}.${found[2]}`) * 1000;
}

export const wallNow = () => performance.timeOrigin + performance.now();

const TICK_MS = 10; // USER_HZ is 100 on Linux

/** CPU ms a process used so far: its own (utime + stime) and its reaped children's (cutime + cstime). */
export function cpuMs(pid: number): { self: number; children: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14-17 of proc(5), counted from the state field (3).
  const n = (i: number) => Number(f[i - 3]) * TICK_MS;
  return { self: n(14) + n(15), children: n(16) + n(17) };
}

export function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]) / 1024;
}

/** CPU ms of every PostgreSQL process on the machine (other users' queries included). */
export function postgresCpuMs(): number {
  let total = 0;
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== 'postgres') continue;
      total += cpuMs(Number(pid)).self;
    } catch {
      // gone
    }
  }
  return total;
}

/** The 1-minute load average, printed next to each figure (the machine is shared). */
export function loadAverage(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ')[0] ?? '?';
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}

const PG_ADMIN = process.env.CONVEYOR_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** A throwaway PostgreSQL database; `drop()` removes it. */
export async function tempDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `conveyor_bench_${randomBytes(5).toString('hex')}`;
  const admin = async (sql: string) => {
    const client = new pg.Client({ connectionString: PG_ADMIN });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  await admin(`create database ${name}`);
  const url = new URL(PG_ADMIN);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => admin(`drop database if exists ${name} with (force)`) };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const fmt = (ms: number) => ms.toFixed(1);
