import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { printTable } from './harness.js';
import {
  loadAverage,
  percentile,
  setUp,
  sleep,
  startRun,
  startServerProc,
  startWorkerProc,
  tempDatabase,
  TAG,
  TOKEN,
  wallNow,
  type ServerProc,
  type WorkerProc,
} from './workers-harness.js';

/**
 * `BENCH_ONLY=replicas`: the figures of issue 11 between two `conveyor server` processes on one
 * PostgreSQL database sharing one blob directory.
 * - A log line a cube wrote (its own wall-clock stamp) until a log stream client reads it on the
 *   replica that does not execute the run; baseline: the same stream on the replica that does
 *   (the worker uploads there).
 * - `kill -9` of the replica the workers hold their polls on, until each has polled the other one
 *   (its `last_seen_at` in the shared store moves past the kill).
 */
export async function benchReplicas(runs: number): Promise<void> {
  const lines = Number(process.env.BENCH_REPLICA_LINES ?? 100);
  const db = await tempDatabase();
  const blobs = mkdtempSync(join(tmpdir(), 'conveyor-bench-blobs-'));
  try {
    const rows = await logLatency(db.url, `file://${blobs}`, lines, runs);
    printTable(
      `Log line written by a cube -> read by a log stream client (${lines} lines x ${runs} runs, ms)`,
      ['stream on', 'p50', 'p99', 'max', 'p50 ratio to baseline', 'target p99', 'load'],
      rows,
    );
  } finally {
    await db.drop().catch(() => undefined);
  }
  const db2 = await tempDatabase();
  try {
    printTable(
      'Replica killed (-9) -> every worker polling the other replica (4 workers with --server A,B)',
      ['kill', 'p50 ms', 'p99 ms', 'max ms', 'target', 'load'],
      await reconnects(db2.url, `file://${blobs}`, runs),
    );
  } finally {
    await db2.drop().catch(() => undefined);
    rmSync(blobs, { recursive: true, force: true });
  }
}

const CONFIG = (lines: number) => `workflows:
  lines:
    tasks:
      - name: t
        runs_on: [${TAG}]
        cubes:
          - name: c
            script:
              - for i in $(seq 1 ${lines}); do echo "line $i $EPOCHREALTIME"; sleep 0.05; done
`;

async function logLatency(url: string, blobStore: string, lines: number, runs: number) {
  const env = { CONVEYOR_BLOB_STORE: blobStore, CONVEYOR_EMBEDDED_WORKERS: '0' };
  const a = await startServerProc({ databaseUrl: url, env });
  const b = await startServerProc({ databaseUrl: url, env });
  let worker: WorkerProc | undefined;
  try {
    const token = await setUp(a, CONFIG(lines));
    worker = await startWorkerProc([a.url], token, 'bench-log');
    const seen: Record<'A' | 'B', number[]> = { A: [], B: [] };
    for (let i = 0; i < runs; i++) {
      const slug = await startRun(a, 'lines');
      const [onA, onB] = await Promise.all([streamDelays(a, slug), streamDelays(b, slug)]);
      seen.A.push(...onA);
      seen.B.push(...onB);
    }
    const base = percentile(seen.A, 50);
    return (['B', 'A'] as const).map((k) => [
      k === 'B' ? 'B (the worker uploads to A)' : 'A, receiving the upload (baseline)',
      percentile(seen[k], 50).toFixed(0),
      percentile(seen[k], 99).toFixed(0),
      Math.max(...seen[k]).toFixed(0),
      (percentile(seen[k], 50) / base).toFixed(2),
      k === 'B' ? '< 1000' : '',
      loadAverage(),
    ]);
  } finally {
    await worker?.close();
    await b.close();
    await a.close();
  }
}

/** Follows the cube's log stream on `server`; answers, per line, receive time - the cube's stamp. */
async function streamDelays(server: ServerProc, slug: string): Promise<number[]> {
  const response = await fetch(`${server.url}/repos/b/r/cicd/logs/${slug}/lines/t/c/stream`, {
    headers: { authorization: `Bearer ${TOKEN}` },
    signal: AbortSignal.timeout(120_000),
  });
  if (!response.body) throw new Error(`no stream: ${response.status}`);
  const delays: number[] = [];
  let rest = '';
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    const now = wallNow();
    rest += Buffer.from(chunk).toString('utf8');
    const events = rest.split('\n\n');
    rest = events.pop() ?? '';
    for (const event of events) {
      const found = /"text":"line \d+ (\d+)[.,](\d+)"/.exec(event);
      if (found) delays.push(now - Number(`${found[1]}.${found[2]}`) * 1000);
    }
  }
  if (delays.length === 0) throw new Error(`no line arrived on ${server.url}`);
  return delays;
}

async function reconnects(url: string, blobStore: string, runs: number) {
  const rows: (string | number)[][] = [];
  const all: number[] = [];
  const env = { CONVEYOR_BLOB_STORE: blobStore, CONVEYOR_EMBEDDED_WORKERS: '0' };
  for (let i = 0; i < runs; i++) {
    const a = await startServerProc({ databaseUrl: url, env });
    const b = await startServerProc({ databaseUrl: url, env });
    const workers: WorkerProc[] = [];
    try {
      const token =
        i === 0
          ? await setUp(a, CONFIG(1))
          : (await a.api<{ token: string }>('POST', '/workers/tokens', { note: 'bench' })).token;
      for (let w = 0; w < 4; w++) workers.push(await startWorkerProc([a.url, b.url], token, `rk-${i}-${w}`));
      await sleep(500); // every worker is in its held poll on A
      const killedAt = Date.now();
      a.child.kill('SIGKILL');
      const back = new Map<string, number>();
      while (back.size < workers.length && Date.now() - killedAt < 30_000) {
        const list = await b.api<{ workers: { name: string; last_seen_at?: string }[] }>('GET', '/workers');
        for (const w of list.workers)
          if (
            w.name.startsWith(`rk-${i}-`) &&
            !back.has(w.name) &&
            Date.parse(w.last_seen_at ?? '') >= killedAt
          )
            back.set(w.name, Date.now() - killedAt);
        await sleep(20);
      }
      const ms = [...back.values()];
      all.push(...ms);
      rows.push([
        `${i + 1}: ${back.size}/${workers.length} back`,
        percentile(ms, 50).toFixed(0),
        percentile(ms, 99).toFixed(0),
        Math.max(...ms).toFixed(0),
        '< 2000',
        loadAverage(),
      ]);
    } finally {
      await Promise.all(workers.map((w) => w.close()));
      await b.close();
      await a.close();
    }
  }
  rows.push([
    `all ${all.length}`,
    percentile(all, 50).toFixed(0),
    percentile(all, 99).toFixed(0),
    Math.max(...all).toFixed(0),
    '< 2000',
    '',
  ]);
  return rows;
}
