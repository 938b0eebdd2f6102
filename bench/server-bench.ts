import { randomUUID } from 'node:crypto';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type autocannon from 'autocannon';
import type { RunRecord } from '../src/core/run/model.js';
import { buildApp } from '../src/server/build-app.js';
import { composeServer } from '../src/server/compose.js';
import { benchRepo, CONVEYOR, median, printTable } from './harness.js';

const TOKEN = 'bench-admin-token-0123456789';

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}

const fmt = (ms: number) => ms.toFixed(2);

const AUTOCANNON = fileURLToPath(new URL('../../node_modules/autocannon/autocannon.js', import.meta.url));

/** Load from a second process (64 connections), so the load generator does not share the server's event loop. */
function autocannonProcess(url: string, seconds: number, token?: string): Promise<autocannon.Result> {
  const args = [
    AUTOCANNON,
    '-c',
    '64',
    '-d',
    String(seconds),
    '-j',
    ...(token ? ['-H', `authorization=Bearer ${token}`] : []),
    url,
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'ignore'] });
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

/** JSON requests to a benchmarked server as the administrator; a non-2xx answer throws. */
function client(url: string) {
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

/** A server composed in this process, so the benchmark can add its constant-body baseline route. */
async function benchServer(extraRoutes?: (app: Awaited<ReturnType<typeof buildApp>>) => void) {
  const dataDir = mkdtempSync(join(tmpdir(), 'conveyor-bench-server-'));
  let url = '';
  const composed = await composeServer(
    {
      host: '127.0.0.1',
      port: 0,
      dataDir,
      triggerTickMs: 60_000,
      env: { ...process.env, CONVEYOR_ADMIN_TOKEN: TOKEN },
      log: () => undefined,
    },
    () => url,
  );
  const app = await buildApp(composed.ctx);
  extraRoutes?.(app);
  url = await app.listen({ host: '127.0.0.1', port: 0 });
  await composed.start(url);
  const api = client(url);
  const close = async () => {
    await composed.stop(1000, () => app.close());
    rmSync(dataDir, { recursive: true, force: true });
  };
  return { url, api, close, composed };
}

async function register(
  api: <T>(m: string, p: string, b?: unknown) => Promise<T>,
  config: string,
): Promise<void> {
  await api('POST', '/orgs', { slug: 'b', name: 'B' });
  await api('POST', '/orgs/b/repos', {
    slug: 'r',
    name: 'R',
    clone_url: benchRepo({ '.conveyor/ci.yaml': config }),
    poll_interval_seconds: 0,
  });
}

const LATENCY_CONFIG = (workflow: string, checkout: boolean) =>
  `  ${workflow}:\n${checkout ? '' : '    checkout: {enabled: false}\n'}    tasks:\n      - name: t\n        cubes:\n          - {name: a, script: ['echo "start $EPOCHREALTIME"', 'echo "end $EPOCHREALTIME"']}\n          - {name: b, script: ['echo "start $EPOCHREALTIME"']}\n`;

/**
 * Latency of the run path: from the manual-run request to the first cube's process starting, and
 * from one cube's end to the next one's start, read from $EPOCHREALTIME the cubes print. The
 * `checkout` workflow clones the repository for its task first, as every real run does; the
 * `bare` one has checkout disabled, which leaves Conveyor's own overhead.
 */
async function latency(runs: number, env: Record<string, string> = {}): Promise<(string | number)[][]> {
  const server = await serverProcess(env);
  try {
    await register(
      server.api,
      `workflows:\n${LATENCY_CONFIG('checkout', true)}${LATENCY_CONFIG('bare', false)}`,
    );
    const rows: (string | number)[][] = [];
    for (const workflow of ['checkout', 'bare']) {
      const toFirst: number[] = [];
      const between: number[] = [];
      for (let i = 0; i < runs; i++) {
        // Wall-clock ms, the same clock as the cubes' $EPOCHREALTIME.
        const t0 = performance.timeOrigin + performance.now();
        const run = await server.api<{ slug: string }>('POST', '/repos/b/r/cicd/runs', {
          workflows: [{ name: workflow }],
        });
        // The run's event stream ends when the run does: no polling load on the server.
        const events = await fetch(`${server.url}/repos/b/r/cicd/runs/${run.slug}/events`, {
          headers: { authorization: `Bearer ${TOKEN}` },
        });
        const status = /"status":"(\w+)"[^\n]*\n\n$/.exec(await events.text())?.[1];
        if (status !== 'success') throw new Error(`run ${run.slug} ended ${status}`);
        const log = async (cube: string) =>
          (
            await server.api<{ logs: string }>(
              'GET',
              `/repos/b/r/cicd/logs/${run.slug}/${workflow}/t/${cube}`,
            )
          ).logs;
        const stamp = (text: string, what: string) =>
          Number(new RegExp(`${what} (\\d+\\.\\d+)`).exec(text)?.[1]) * 1000;
        const a = await log('a');
        const b = await log('b');
        toFirst.push(stamp(a, 'start') - t0);
        between.push(stamp(b, 'start') - stamp(a, 'end'));
      }
      rows.push(
        [
          `request -> first cube starts (${workflow})`,
          fmt(percentile(toFirst, 50)),
          fmt(percentile(toFirst, 99)),
          '< 50',
        ],
        [
          `cube ends -> next cube starts (${workflow})`,
          fmt(percentile(between, 50)),
          fmt(percentile(between, 99)),
          '< 50',
        ],
      );
    }
    return rows;
  } finally {
    await server.close();
  }
}

/** GetRun of a 100-cube run under 64 connections, against a constant body of the same size on the same server. */
async function getRunLoad(seconds: number): Promise<(string | number)[][]> {
  let constant = '';
  const server = await benchServer((app) =>
    app.get('/bench/constant', (_req, reply) => reply.type('application/json').send(constant)),
  );
  try {
    const cubes = Array.from(
      { length: 100 },
      (_, i) => `          - {name: c${i}, needs: ['-'], script: ['true']}`,
    ).join('\n');
    await register(server.api, `workflows:\n  w:\n    tasks:\n      - name: t\n        cubes:\n${cubes}\n`);
    const run = await server.api<{ slug: string }>('POST', '/repos/b/r/cicd/runs', {
      workflows: [{ name: 'w' }],
    });
    for (;;) {
      const got = await server.api<{ status: string }>('GET', `/repos/b/r/cicd/runs/${run.slug}`);
      if (got.status === 'success') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    constant = JSON.stringify(await server.api('GET', `/repos/b/r/cicd/runs/${run.slug}`));
    const load = (path: string, auth: boolean) =>
      autocannonProcess(`${server.url}${path}`, seconds, auth ? TOKEN : undefined);
    const baseline = await load('/bench/constant', false);
    const getRun = await load(`/repos/b/r/cicd/runs/${run.slug}`, true);
    // GetWorkflow is never cached: every request reads the whole tree from the store and serializes it.
    const uncached = await load(`/repos/b/r/cicd/runs/${run.slug}/w`, true);
    if (getRun.non2xx > 0 || baseline.non2xx > 0 || uncached.non2xx > 0)
      throw new Error('non-2xx answers under load');
    const row = (name: string, r: autocannon.Result) => [
      name,
      r.requests.average.toFixed(0),
      fmt(r.latency.p50),
      fmt(r.latency.p99),
      (r.requests.average / baseline.requests.average).toFixed(2),
    ];
    return [
      [
        `constant ${(constant.length / 1024).toFixed(1)} KiB body (baseline)`,
        baseline.requests.average.toFixed(0),
        fmt(baseline.latency.p50),
        fmt(baseline.latency.p99),
        '1.00',
      ],
      row('GetRun, 100 cubes (finished run: cached body)', getRun),
      row('GetWorkflow, same tree (read from the store each time)', uncached),
    ];
  } finally {
    await server.close();
  }
}

/** ListRuns pages with 100,000 runs stored: first pages and deep pages reached by page tokens. */
async function listRuns(total: number, samples: number): Promise<(string | number)[][]> {
  const server = await benchServer();
  try {
    await register(
      server.api,
      "workflows:\n  w:\n    tasks: [{name: t, cubes: [{name: c, script: ['true']}]}]\n",
    );
    const repo = await server.api<{ id: string }>('GET', '/repos/b/r');
    const { runs } = server.composed.ctx.services;
    const now = Date.now();
    const started = performance.now();
    for (let i = 0; i < total; i++) await runs.insertRun(tinyRun(repo.id, now + i));
    const inserted = performance.now() - started;
    const first: number[] = [];
    const deep: number[] = [];
    const tokens: string[] = [];
    let token: string | undefined;
    for (let page = 0; page < samples; page++) {
      const t = performance.now();
      const got = await server.api<{ next_page_token?: string }>(
        'GET',
        `/repos/b/r/cicd/runs?page_size=20${token ? `&page_token=${token}` : ''}`,
      );
      (page === 0 ? first : deep).push(performance.now() - t);
      token = got.next_page_token;
      if (token) tokens.push(token);
    }
    for (let i = 0; i < samples; i++) {
      const t = performance.now();
      await server.api('GET', '/repos/b/r/cicd/runs?page_size=20');
      first.push(performance.now() - t);
    }
    const far = Buffer.from(`runs:v1:${Math.floor(total / 2)}`).toString('base64url');
    const middle: number[] = [];
    for (let i = 0; i < samples; i++) {
      const t = performance.now();
      await server.api('GET', `/repos/b/r/cicd/runs?page_size=20&page_token=${far}`);
      middle.push(performance.now() - t);
    }
    return [
      [
        `first page (${total.toLocaleString('en')} runs stored; inserted in ${(inserted / 1000).toFixed(1)} s)`,
        fmt(median(first)),
        fmt(percentile(first, 99)),
        '< 20',
      ],
      ['following pages by token', fmt(median(deep)), fmt(percentile(deep, 99)), '< 20'],
      ['a page in the middle', fmt(median(middle)), fmt(percentile(middle, 99)), '< 20'],
    ];
  } finally {
    await server.close();
  }
}

function tinyRun(repoId: string, at: number): RunRecord {
  const dates = { createdAt: at, startedAt: at, finishedAt: at + 5, updatedAt: at + 5 };
  return {
    id: randomUUID(),
    repoId,
    slug: '',
    status: 'success',
    dates,
    eventType: 'push',
    errorMessages: [],
    context: { env: {}, configFile: '.conveyor/ci.yaml' },
    version: 0,
    workflows: [
      {
        id: randomUUID(),
        slug: 'w',
        status: 'success',
        dates,
        version: 0,
        spec: {
          env: {},
          maxCubeDurationMs: 300_000,
          checkout: { enabled: true, removeCredentials: true },
          runsOn: [],
          inputs: {},
        },
        tasks: [
          {
            id: randomUUID(),
            slug: 't',
            status: 'success',
            dates,
            version: 0,
            needs: [],
            outputs: {},
            spec: { env: {}, outputs: {}, runsOn: [] },
            cubes: [
              {
                id: randomUUID(),
                slug: 'c',
                status: 'success',
                dates,
                version: 0,
                needs: [],
                allowFailure: false,
                artifacts: [],
                outputs: {},
                exitCode: 0,
                spec: { script: ['true'], env: {}, artifacts: [] },
              },
            ],
          },
        ],
      },
    ],
  };
}

/** `conveyor server` as its own process, as in production, so the benchmark's requests do not share its event loop. */
async function serverProcess(env: Record<string, string> = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), 'conveyor-bench-proc-'));
  const child = spawn(CONVEYOR, ['server', '--port', '0', '--data-dir', dataDir], {
    env: { ...process.env, CONVEYOR_ADMIN_TOKEN: TOKEN, ...env },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const url = await new Promise<string>((resolve) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const found = /listening on (\S+)/.exec(out)?.[1];
      if (found) resolve(found);
    });
  });
  const api = client(url);
  const close = async () => {
    child.kill('SIGTERM');
    await new Promise((r) => child.on('exit', r));
    rmSync(dataDir, { recursive: true, force: true });
  };
  return { url, api, close };
}

/** RSS of `conveyor server` as a real process, idle, after start-up settled. */
async function idleRss(): Promise<(string | number)[][]> {
  const dataDir = mkdtempSync(join(tmpdir(), 'conveyor-bench-idle-'));
  const child = spawn(CONVEYOR, ['server', '--port', '0', '--data-dir', dataDir], {
    env: { ...process.env, CONVEYOR_ADMIN_TOKEN: TOKEN },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  try {
    await new Promise<void>((resolve) =>
      child.stdout.on('data', (d: Buffer) => d.toString().includes('listening') && resolve()),
    );
    await new Promise((r) => setTimeout(r, 3000));
    const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1]) / 1024;
    return [['idle `conveyor server` RSS (MB)', rss.toFixed(1), '< 120']];
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.on('exit', r));
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** One run of 3 tasks x 100 sequential `true` cubes through the server: request to run ended. */
async function bulkRun(runs: number, env: Record<string, string> = {}): Promise<(string | number)[]> {
  const server = await serverProcess(env);
  try {
    const tasks = [0, 1, 2]
      .map((t) => {
        const cubes = Array.from({ length: 100 }, (_, c) => `          - {name: c${c}, script: ['true']}`);
        return `      - name: t${t}\n        cubes:\n${cubes.join('\n')}`;
      })
      .join('\n');
    await register(server.api, `workflows:\n  w:\n    tasks:\n${tasks}\n`);
    const took: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      const run = await server.api<{ slug: string }>('POST', '/repos/b/r/cicd/runs', {
        workflows: [{ name: 'w' }],
      });
      const events = await fetch(`${server.url}/repos/b/r/cicd/runs/${run.slug}/events`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      const status = /"status":"(\w+)"[^\n]*\n\n$/.exec(await events.text())?.[1];
      if (status !== 'success') throw new Error(`run ${run.slug} ended ${status}`);
      took.push(performance.now() - t0);
    }
    return ['request -> run of 300 cubes ended', fmt(percentile(took, 50)), fmt(percentile(took, 99)), ''];
  } finally {
    await server.close();
  }
}

/**
 * The run path with the server's embedded worker (the default: every task through the worker
 * protocol) against the same server running tasks in its own process (CONVEYOR_TASKS_IN_PROCESS=1,
 * the way before embedded workers), measured in the same run; the last column is the ratio of p50s.
 */
async function latencyBeforeAfter(runs: number): Promise<(string | number)[][]> {
  const inProcess = { CONVEYOR_TASKS_IN_PROCESS: '1' };
  const before = [...(await latency(runs, inProcess)), await bulkRun(Math.max(3, runs / 20), inProcess)];
  const after = [...(await latency(runs)), await bulkRun(Math.max(3, runs / 20))];
  const rows: (string | number)[][] = [];
  for (const [i, row] of after.entries()) {
    const base = before[i] ?? [];
    rows.push([
      `${String(base[0])}, in-process (before)`,
      base[1] ?? '',
      base[2] ?? '',
      base[3] ?? '',
      '1.00',
    ]);
    const ratio = Number(row[1]) / Number(base[1]);
    rows.push([
      `${String(row[0])}, embedded worker`,
      row[1] ?? '',
      row[2] ?? '',
      row[3] ?? '',
      ratio.toFixed(2),
    ]);
  }
  return rows;
}

/** Every server benchmark; BENCH_SERVER_PARTS=latency,load,list,rss,deploy picks some. */
export async function benchServerAll(runs: number): Promise<void> {
  const parts = (process.env.BENCH_SERVER_PARTS ?? 'latency,load,list,rss,deploy').split(',');
  if (parts.includes('latency'))
    printTable(
      `Server latency over ${runs * 40} runs (ms)`,
      ['path', 'p50', 'p99', 'target p99', 'p50 vs in-process'],
      await latencyBeforeAfter(runs * 40),
    );
  if (parts.includes('load'))
    printTable(
      'GetRun under load: 64 connections, autocannon (same server, same run)',
      ['route', 'req/s', 'p50 ms', 'p99 ms', 'ratio'],
      await getRunLoad(Math.max(3, runs * 2)),
    );
  if (parts.includes('list'))
    printTable(
      'ListRuns, page_size 20 (ms)',
      ['page', 'median', 'p99', 'target p99'],
      await listRuns(Number(process.env.BENCH_LIST_RUNS ?? 100_000), 50 * runs),
    );
  if (parts.includes('rss')) printTable('Idle server', ['what', 'value', 'target'], await idleRss());
  if (parts.includes('deploy'))
    printTable(
      'Deployment run, request to completed (ms)',
      ['what', 'p50', 'p99', 'target p99'],
      await deployLatency(runs * 20),
    );
}

/** A v2 deployment run over 3 record-only environments without approvals, from request to `completed`. */
export async function deployLatency(runs: number): Promise<(string | number)[][]> {
  const server = await serverProcess();
  try {
    await register(
      server.api,
      "workflows:\n  w:\n    tasks: [{name: t, cubes: [{name: c, script: ['true']}]}]\n",
    );
    const repo = await server.api<{ id: string }>('GET', '/repos/b/r');
    const base = `/api/projects/${repo.id}`;
    for (const [i, key] of ['dev', 'staging', 'prod'].entries())
      await server.api('POST', `${base}/environments`, {
        name: key,
        key,
        addToWorkflow: true,
        workflowOrder: i,
      });
    const release = await server.api<{ id: string }>('POST', `${base}/releases`, {
      name: 'r',
      status: 'published',
    });
    const took: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      let run = await server.api<{ id: string; status: string }>('POST', `${base}/runs`, {
        releaseId: release.id,
      });
      while (run.status !== 'completed') {
        if (run.status === 'failure' || run.status === 'cancelled')
          throw new Error(`deployment run ended ${run.status}`);
        run = await server.api<{ id: string; status: string }>('GET', `${base}/runs/${run.id}`);
      }
      took.push(performance.now() - t0);
    }
    return [
      [
        `v2 run, 3 record-only environments (${runs} runs)`,
        fmt(percentile(took, 50)),
        fmt(percentile(took, 99)),
        '< 100',
      ],
    ];
  } finally {
    await server.close();
  }
}
