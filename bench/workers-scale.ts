import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { median } from './harness.js';
import {
  cpuMs,
  finishRun,
  loadAverage,
  postgresCpuMs,
  rssMb,
  setUp,
  sleep,
  startRun,
  startServerProc,
  startWorkerProc,
  TAG,
  tempDatabase,
  type Proc,
  type ServerProc,
  type WorkerProc,
} from './workers-harness.js';

const fanOut = (name: string, tasks: number, runsOn: string) =>
  `  ${name}:\n    checkout: {enabled: false}\n    tasks:\n${Array.from(
    { length: tasks },
    (_, i) => `      - {name: t${i}, ${runsOn}cubes: [{name: c, script: ['true']}]}\n`,
  ).join('')}`;

/** CPU ms so far of the servers (their own) and of the workers (their own and their cubes'). */
function cpu(servers: Proc[], workers: Proc[]) {
  const sum = (ps: Proc[], f: (c: { self: number; children: number }) => number) =>
    ps.reduce((total, p) => total + f(cpuMs(p.pid)), 0);
  return {
    servers: sum(servers, (c) => c.self),
    workers: sum(workers, (c) => c.self),
    cubes: sum(workers, (c) => c.children),
    postgres: postgresCpuMs(),
  };
}

/** Posts `runs` runs of `workflow`, alternating between the servers, and waits for them all. */
async function batch(servers: ServerProc[], workflow: string, runs: number): Promise<number> {
  const t0 = performance.now();
  const slugs = await Promise.all(
    Array.from({ length: runs }, async (_, i) => {
      const via = servers[i % servers.length] as ServerProc;
      return { via, slug: await startRun(via, workflow) };
    }),
  );
  await Promise.all(slugs.map(({ via, slug }) => finishRun(via, slug)));
  return performance.now() - t0;
}

/**
 * Throughput through 2 servers (one PostgreSQL database) and 4 workers (2 on each server, 4 slots
 * each): runs of 50 parallel tasks with one `true` cube each, posted to both servers; tasks/s
 * from the first request to the last run's end. CPU per task from /proc/<pid>/stat. Baseline: the
 * same runs with the tasks executed by the servers themselves (no `runs_on`).
 */
export async function throughput(runs: number): Promise<(string | number)[][]> {
  const TASKS = 50;
  const slots = Number(process.env.BENCH_WORKER_SLOTS ?? 4);
  const db = await tempDatabase();
  const a = await startServerProc({ databaseUrl: db.url, replicaId: 'bench-a' });
  const b = await startServerProc({ databaseUrl: db.url, replicaId: 'bench-b' });
  const workers: WorkerProc[] = [];
  try {
    const config = `workflows:\n${fanOut('fan', TASKS, `runs_on: [self-hosted, ${TAG}], `)}${fanOut('local', TASKS, '')}`;
    const token = await setUp(a, config);
    for (let i = 0; i < 4; i++)
      workers.push(await startWorkerProc([(i % 2 ? b : a).url], token, `w-tp-${i}`, { slots }));
    const servers = [a, b];
    const rows: (string | number)[][] = [];
    for (const [what, workflow] of [
      ['tasks on 4 workers', 'fan'],
      ['baseline: same tasks on the 2 servers themselves', 'local'],
    ] as const) {
      await batch(servers, workflow, 4); // warm-up
      const load = loadAverage();
      const before = cpu(servers, workers);
      const ms = await batch(servers, workflow, runs);
      const after = cpu(servers, workers);
      const n = runs * TASKS;
      const per = (k: keyof typeof before) => ((after[k] - before[k]) / n).toFixed(2);
      rows.push([
        `${what} (${n} tasks)`,
        (n / (ms / 1000)).toFixed(0),
        per('servers'),
        per('workers'),
        per('cubes'),
        per('postgres'),
        workflow === 'fan' ? '>= 100' : '',
        load,
      ]);
    }
    return rows;
  } finally {
    await Promise.all(workers.map((w) => w.close()));
    await a.close();
    await b.close();
    await db.drop();
  }
}

const CHILD = fileURLToPath(new URL('./idle-workers-child.js', import.meta.url));

/** Starts `count` idle protocol workers in `processes` node processes; resolves once all registered. */
async function idleWorkers(url: string, token: string, count: number, processes: number): Promise<Proc[]> {
  const children: Proc[] = [];
  for (let i = 0; i < processes; i++) {
    const n = Math.floor(count / processes) + (i < count % processes ? 1 : 0);
    const child = spawn(process.execPath, [CHILD, url, token, `idle${i}`, String(n)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
      child.once('exit', () => reject(new Error('an idle-worker process exited')));
    });
    children.push({
      child,
      pid: child.pid ?? 0,
      output: () => '',
      close: async () => {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
        await exited;
        clearTimeout(timer);
      },
    });
  }
  return children;
}

/** CPU (% of one core) of the server over `seconds`, and its RSS (median of one sample a second). */
async function sample(server: ServerProc, seconds: number) {
  const c0 = cpuMs(server.pid).self;
  const t0 = performance.now();
  const rss: number[] = [];
  for (let i = 0; i < seconds; i++) {
    await sleep(1000);
    rss.push(rssMb(server.pid));
  }
  const cpuPct = ((cpuMs(server.pid).self - c0) / (performance.now() - t0)) * 100;
  return { cpuPct, rss: median(rss) };
}

/**
 * 200 idle connected workers: the server's CPU over `seconds` of idle holding polls and its RSS,
 * against the same server idle with no worker (measured just before they connect).
 */
export async function idleCost(count: number, seconds: number): Promise<(string | number)[][]> {
  const server = await startServerProc();
  let children: Proc[] = [];
  try {
    const token = await setUp(server, `workflows:\n${fanOut('none', 1, `runs_on: [self-hosted, ${TAG}], `)}`);
    await sleep(3000);
    const loadBefore = loadAverage();
    const idle = await sample(server, seconds);
    children = await idleWorkers(server.url, token, count, Math.max(1, Math.ceil(count / 50)));
    const { workers } = await server.api<{ workers: { name: string; state: string }[] }>('GET', '/workers');
    const online = workers.filter((w) => w.name.startsWith('idle') && w.state === 'online').length;
    await sleep(5000); // settle: the first polls and their registrations
    const loadWith = loadAverage();
    const held = await sample(server, seconds);
    return [
      [
        'server idle, no worker connected (baseline)',
        idle.cpuPct.toFixed(2),
        idle.rss.toFixed(1),
        '',
        '',
        loadBefore,
      ],
      [
        `${online} idle workers, each holding its poll (${seconds} s)`,
        held.cpuPct.toFixed(2),
        held.rss.toFixed(1),
        (held.cpuPct - idle.cpuPct).toFixed(2),
        (held.rss - idle.rss).toFixed(1),
        loadWith,
      ],
      ['target', '', '', '< 5', '< 50', ''],
    ];
  } finally {
    await Promise.all(children.map((c) => c.close()));
    await server.close();
  }
}
