import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import {
  cubeLog,
  finishRun,
  fmt,
  loadAverage,
  percentile,
  sleep,
  stamp,
  startRun,
  startServerProc,
  startWorkerProc,
  setUp,
  TAG,
  tempDatabase,
  wallNow,
  type ServerProc,
} from './workers-harness.js';
import { median } from './harness.js';

/**
 * Dispatch latency: from the moment a task became ready (its `started_at` in the run record, set
 * by the server's engine when it hands the task to the worker queue) to the moment the cube's
 * shell ran its first line (`$EPOCHREALTIME` the cube prints: the process exists, has joined the
 * task's cgroup and runs the script). Same clock (one machine). One single-task run at a time, and
 * the next one only once the worker is back in its held poll, so the worker is idle each time.
 */

const cube = (script: string) => `{name: c, script: ['${script}']}`;
const workflow = (name: string, checkout: boolean, runsOn: string, script = 'echo "start $EPOCHREALTIME"') =>
  `  ${name}:\n${checkout ? '' : '    checkout: {enabled: false}\n'}    tasks:\n      - name: t\n${runsOn}        cubes:\n          - ${cube(script)}\n`;
const onWorker = `        runs_on: [self-hosted, ${TAG}]\n`;
/**
 * `bare`, `checkout`: tasks for the worker; `local`: the same task on the server itself; `marked`
 * also writes the stamp to a file in `marks`, for runs whose log is kept by another replica.
 */
export const dispatchConfig = (marks: string) =>
  `workflows:\n${workflow('bare', false, onWorker)}${workflow('checkout', true, onWorker)}${workflow('local', false, '')}${workflow('marked', false, onWorker, `echo "start $EPOCHREALTIME" > ${marks}/run-$SOURCECRAFT_RUN_ID`)}`;

interface Sample {
  /** Task ready (run record) -> cube's first line. */
  ready: number;
  /** POST of the run -> cube's first line. */
  request: number;
  /** Task ready -> the executing engine marks the cube started (claim, hand-over, workspace). */
  toEngine: number;
  /** The engine marks the cube started -> its first line (spawn, cgroup join, shell start). */
  spawn: number;
  runId: string;
}

/**
 * Runs `count` single-task runs of `workflow` one after another; `via` takes the requests; the
 * cube's stamp is read from its log, or from `marks` when given.
 */
async function samples(
  via: ServerProc,
  workflow: string,
  count: number,
  idle: () => Promise<void>,
  marks?: string,
) {
  const out: Sample[] = [];
  for (let i = 0; i < count; i++) {
    await idle();
    const t0 = wallNow();
    const slug = await startRun(via, workflow);
    const run = await finishRun(via, slug, 30_000);
    const started = stamp(
      marks ? readFileSync(join(marks, `run-${slug}`), 'utf8') : await cubeLog(via, slug, `${workflow}/t/c`),
    );
    const task = run.workflows[0]?.tasks[0];
    const ready = Date.parse(task?.dates.started_at ?? '');
    const engine = Date.parse(task?.cubes[0]?.dates.started_at ?? '');
    out.push({
      ready: started - ready,
      request: started - t0,
      toEngine: engine - ready,
      spawn: started - engine,
      runId: run.id,
    });
  }
  return out;
}

/** Waits until the named worker polls again with nothing running (it is idle in its held poll). */
function idleWorker(server: ServerProc, name: string): () => Promise<void> {
  return async () => {
    for (;;) {
      const { workers } = await server.api<{ workers: { name: string; running: number }[] }>(
        'GET',
        '/workers',
      );
      if (workers.find((w) => w.name === name)?.running === 0) break;
      await sleep(2);
    }
    // The poll that reported `running: 0` claims, finds nothing and then waits: give it that.
    await sleep(5);
  };
}

export interface Figure {
  what: string;
  values: number[];
  target?: number;
  load: string;
  blocks: number;
  /** Why the figure could not be measured. */
  error?: string;
}

/** p50 / p99 over all samples, and the spread of the p99 over `blocks` consecutive blocks. */
export function latencyRow(f: Figure): (string | number)[] {
  if (f.error || f.values.length === 0)
    return [
      `${f.what}: ${f.error ?? 'no sample'}`,
      '',
      '',
      '',
      f.target ? `< ${f.target}` : '',
      'NO',
      f.load,
    ];
  const size = Math.max(1, Math.floor(f.values.length / f.blocks));
  const p99s: number[] = [];
  for (let i = 0; i + size <= f.values.length; i += size)
    p99s.push(percentile(f.values.slice(i, i + size), 99));
  const spread = `${fmt(median(p99s))} [${fmt(Math.min(...p99s))}-${fmt(Math.max(...p99s))}]`;
  return [
    `${f.what} (n=${f.values.length})`,
    fmt(percentile(f.values, 50)),
    fmt(percentile(f.values, 99)),
    spread,
    f.target !== undefined ? `< ${f.target}` : '',
    percentile(f.values, 99) < (f.target ?? Infinity) ? (f.target !== undefined ? 'yes' : '') : 'NO',
    f.load,
  ];
}

async function healthz(server: ServerProc, count: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    await (await fetch(`${server.url}/healthz`)).text();
    out.push(performance.now() - t0);
  }
  return out;
}

/** (a) no checkout and (b) a checkout from the worker's cache, one server (SQLite), with baselines. */
export async function dispatchOneServer(count: number, blocks: number): Promise<Figure[]> {
  const server = await startServerProc();
  const token = await setUp(server, dispatchConfig(tmpdir()));
  const worker = await startWorkerProc([server.url], token, 'w-dispatch');
  try {
    const idle = idleWorker(server, worker.name);
    const figures: Figure[] = [];
    const measure = async (
      what: string,
      workflow: string,
      n: number,
      target?: number,
      key: keyof Sample = 'ready',
    ) => {
      await samples(server, workflow, Math.min(20, n), idle); // warm-up: JIT, the worker's git cache
      const load = loadAverage();
      const got = await samples(server, workflow, n, idle);
      figures.push({
        what,
        values: got.map((s) => s[key] as number),
        load,
        blocks,
        ...(target ? { target } : {}),
      });
      return got;
    };
    const also = (got: Sample[], key: keyof Sample, what: string) =>
      figures.push({
        what,
        values: got.map((s) => s[key] as number),
        load: figures.at(-1)?.load ?? '',
        blocks,
      });
    const parts = (got: Sample[]) => {
      also(got, 'toEngine', '    of which: ready -> engine marks the cube started');
      also(got, 'spawn', '    of which: engine marks it started -> first line');
    };
    const bare = await measure('(a) ready -> cube started, no checkout, one server', 'bare', count, 50);
    parts(bare);
    also(bare, 'request', '    same runs: run request -> cube started');
    parts(await measure('(b) ready -> cube started, checkout from the worker cache', 'checkout', count, 150));
    const local = await measure(
      'baseline: ready -> cube started, same task on the server itself',
      'local',
      Math.max(50, Math.floor(count / 5)),
    );
    parts(local);
    also(local, 'request', '    same runs: run request -> cube started');
    const load = loadAverage();
    figures.push({
      what: 'baseline: GET /healthz round trip',
      values: await healthz(server, 1000),
      load,
      blocks,
    });
    return figures;
  } finally {
    await worker.close();
    await server.close();
  }
}

/**
 * (c) Two servers on one PostgreSQL database; the worker polls B, the run is posted to (and
 * executed by) A. Runs posted to B, where B executes them, give the same path on PostgreSQL
 * without the other replica. A run that the other replica claimed is counted where it ran.
 */
export async function dispatchReplicas(count: number, blocks: number): Promise<Figure[]> {
  const db = await tempDatabase();
  const marks = mkdtempSync(join(tmpdir(), 'conveyor-bench-marks-'));
  // Run as root, a worker runs cubes as unprivileged users: the marks folder is theirs to write.
  chmodSync(marks, 0o777);
  const a = await startServerProc({ databaseUrl: db.url, replicaId: 'bench-a' });
  const b = await startServerProc({ databaseUrl: db.url, replicaId: 'bench-b' });
  try {
    const token = await setUp(a, dispatchConfig(marks));
    const worker = await startWorkerProc([b.url], token, 'w-replica');
    try {
      const idle = idleWorker(b, worker.name);
      await samples(b, 'marked', 10, idle, marks);
      const loadB = loadAverage();
      const viaB = await samples(b, 'marked', Math.max(50, Math.floor(count / 5)), idle, marks);
      const loadA = loadAverage();
      let viaA: Sample[] = [];
      let error: string | undefined;
      try {
        await samples(a, 'marked', 10, idle, marks);
        viaA = await samples(a, 'marked', count, idle, marks);
      } catch (e) {
        error = `not measured: ${(e as Error).message}`;
      }
      const owners = await claimedBy(db.url);
      const all = [...viaA, ...viaB];
      const on = (replica: string) => all.filter((s) => owners.get(s.runId) === replica).map((s) => s.ready);
      const cross = { what: '(c) ready -> cube started, run on A, worker polls B', target: 150 };
      return [
        { ...cross, values: on('bench-a'), load: loadA, blocks, ...(error ? { error } : {}) },
        { what: '    same, run on B (PostgreSQL, one replica)', values: on('bench-b'), load: loadB, blocks },
      ];
    } finally {
      await worker.close();
    }
  } finally {
    await a.close();
    await b.close();
    await db.drop();
    rmSync(marks, { recursive: true, force: true });
  }
}

async function claimedBy(url: string): Promise<Map<string, string>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const rows = await client.query<{ id: string; claimed_by: string | null }>(
      'select id, claimed_by from runs',
    );
    return new Map(rows.rows.map((r) => [r.id, r.claimed_by ?? '']));
  } finally {
    await client.end();
  }
}
