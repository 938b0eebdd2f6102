import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type autocannon from 'autocannon';
import { buildApp } from '../src/server/build-app.js';
import { composeServer } from '../src/server/compose.js';
import { benchRepo, printTable } from './harness.js';

const TOKEN = 'bench-admin-token-0123456789';
const AUTOCANNON = fileURLToPath(new URL('../../node_modules/autocannon/autocannon.js', import.meta.url));
const CUBES = 100;
/** Cubes 0..CHURN-1 end one after another during the load, so the view changes while it is read. */
const CHURN = 40;

/** 64 connections from a second process, so the load generator does not share the server's event loop. */
function load(url: string, seconds: number, auth: boolean): Promise<autocannon.Result> {
  const args = [AUTOCANNON, '-c', '64', '-d', String(seconds), '-j'];
  if (auth) args.push('-H', `authorization=Bearer ${TOKEN}`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...args, url], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', () => {
      try {
        resolve(JSON.parse(out) as autocannon.Result);
      } catch {
        reject(new Error(`autocannon printed no result: ${out.slice(0, 200)}`));
      }
    });
  });
}

/** A server in this process with a constant-body route; `views: false` sets CONVEYOR_LIVE_VIEWS=off. */
async function server(views: boolean) {
  const dataDir = mkdtempSync(join(tmpdir(), 'conveyor-bench-live-'));
  let url = '';
  let constant = '';
  const composed = await composeServer(
    {
      host: '127.0.0.1',
      port: 0,
      dataDir,
      triggerTickMs: 60_000,
      parallelism: CUBES,
      env: { ...process.env, CONVEYOR_ADMIN_TOKEN: TOKEN, ...(views ? {} : { CONVEYOR_LIVE_VIEWS: 'off' }) },
      log: () => undefined,
    },
    () => url,
  );
  const app = await buildApp(composed.ctx);
  app.get('/bench/constant', (_req, reply) => reply.type('application/json').send(constant));
  url = await app.listen({ host: '127.0.0.1', port: 0 });
  await composed.start();
  const api = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const response = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${TOKEN}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
    return (await response.json()) as T;
  };
  return {
    url,
    api,
    composed,
    setConstant: (body: string) => (constant = body),
    close: async () => {
      await app.close();
      await composed.stop(200); // the sleeping cubes are canceled
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * A running 100-cube run: every cube sleeps; the first CHURN end one after another while the
 * benchmark reads, so the run changes a few times a second under the load.
 */
function config(seconds: number): string {
  const step = (3 * seconds) / CHURN;
  const cubes = Array.from({ length: CUBES }, (_, i) => {
    const sleep = i < CHURN ? (2 + i * step).toFixed(2) : '600';
    return `          - {name: c${i}, needs: ['-'], script: ['sleep ${sleep}']}`;
  }).join('\n');
  return `workflows:\n  w:\n    tasks:\n      - name: t\n        cubes:\n${cubes}\n`;
}

async function measure(views: boolean, seconds: number): Promise<(string | number)[][]> {
  const s = await server(views);
  try {
    await s.api('POST', '/orgs', { slug: 'b', name: 'B' });
    await s.api('POST', '/orgs/b/repos', {
      slug: 'r',
      name: 'R',
      clone_url: benchRepo({ '.conveyor/ci.yaml': config(seconds) }),
      poll_interval_seconds: 0,
    });
    const run = await s.api<{ slug: string }>('POST', '/repos/b/r/cicd/runs', { workflows: [{ name: 'w' }] });
    const path = `/repos/b/r/cicd/runs/${run.slug}`;
    for (;;) {
      const got = await s.api<{ status: string; workflows: { tasks: { cubes: { status: string }[] }[] }[] }>(
        'GET',
        path,
      );
      const cubes = got.workflows[0]?.tasks[0]?.cubes ?? [];
      if (cubes.filter((c) => c.status === 'processing').length === CUBES) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    s.setConstant(JSON.stringify(await s.api('GET', path)));
    const baseline = await load(`${s.url}/bench/constant`, seconds, false);
    const before = await s.api<{ status: string }>('GET', path);
    const getRun = await load(`${s.url}${path}`, seconds, true);
    const getWorkflow = await load(`${s.url}${path}/w`, seconds, true);
    const after = await s.api<{ status: string; workflows: { tasks: { cubes: { status: string }[] }[] }[] }>(
      'GET',
      path,
    );
    if (before.status !== 'processing' || after.status !== 'processing')
      throw new Error(`the run was not running throughout: ${before.status} -> ${after.status}`);
    if ([baseline, getRun, getWorkflow].some((r) => r.non2xx > 0 || r.errors > 0))
      throw new Error('non-2xx answers or errors under load');
    const ended = (after.workflows[0]?.tasks[0]?.cubes ?? []).filter((c) => c.status === 'success').length;
    const mode = views ? 'live view' : 'views off (store every request)';
    const row = (name: string, r: autocannon.Result) => [
      `${name}, ${mode}`,
      r.requests.average.toFixed(0),
      r.latency.p50.toFixed(2),
      r.latency.p99.toFixed(2),
      (r.requests.average / baseline.requests.average).toFixed(2),
    ];
    return [
      [
        `constant ${(JSON.stringify(after).length / 1024).toFixed(1)} KiB body (baseline)`,
        baseline.requests.average.toFixed(0),
        baseline.latency.p50.toFixed(2),
        baseline.latency.p99.toFixed(2),
        '1.00',
      ],
      row('GetRun, running run', getRun),
      row(`GetWorkflow, same run (${ended} cubes ended during the load)`, getWorkflow),
    ];
  } finally {
    await s.close();
  }
}

/** GetRun and GetWorkflow of a running 100-cube run vs a constant body, with and without live views. */
export async function benchLiveRead(runs: number): Promise<void> {
  const seconds = Math.max(3, Number(process.env.BENCH_LIVE_SECONDS ?? runs));
  const rows = [...(await measure(false, seconds)), ...(await measure(true, seconds))];
  printTable(
    `Live reads: 64 connections, ${seconds} s each, a running ${CUBES}-cube run (ratio: vs the constant route of the same server)`,
    ['route', 'req/s', 'p50 ms', 'p99 ms', 'ratio'],
    rows,
  );
}
