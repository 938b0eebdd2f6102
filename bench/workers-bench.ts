import { median, printTable } from './harness.js';
import { dispatchOneServer, dispatchReplicas, latencyRow } from './workers-dispatch.js';
import { killRecovery } from './workers-kill.js';
import { idleCost, throughput } from './workers-scale.js';
import { percentile } from './workers-harness.js';

/**
 * `BENCH_ONLY=workers`: the figures of the worker protocol (issue 10, docs/workers.md "Figures"),
 * each next to a baseline measured in the same run and the 1-minute load average when it was
 * measured (the machine is shared). BENCH_WORKER_PARTS=dispatch,replicas,throughput,idle,kill picks
 * parts; BENCH_WORKER_TASKS sets the dispatch sample (default 1000 tasks per path). A part that
 * cannot be measured says why and the others still run.
 */
export async function benchWorkers(runs: number): Promise<void> {
  const parts = (process.env.BENCH_WORKER_PARTS ?? 'dispatch,replicas,throughput,idle,kill').split(',');
  for (const part of parts)
    await PARTS[part]?.(runs).catch((error: unknown) =>
      console.log(
        `\nworkers ${part}: not measured: ${error instanceof Error ? error.message : String(error)}`,
      ),
    );
}

const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const latencyHeader = (runs: number) => [
  'path',
  'p50',
  'p99',
  `p99 of ${runs} blocks: median [min-max]`,
  'target p99',
  'met',
  'load',
];

const PARTS: Record<string, (runs: number) => Promise<void>> = {
  dispatch: async (runs) =>
    printTable(
      'Worker dispatch: task ready (run record) -> cube process runs its first line, idle worker (ms)',
      latencyHeader(runs),
      (await dispatchOneServer(env('BENCH_WORKER_TASKS', 1000), runs)).map(latencyRow),
    ),
  replicas: async (runs) =>
    printTable(
      'Worker dispatch through the other replica: 2 servers on one PostgreSQL (ms)',
      latencyHeader(runs),
      (await dispatchReplicas(env('BENCH_WORKER_TASKS', 1000), runs)).map(latencyRow),
    ),
  throughput: async (runs) => {
    const rows: (string | number)[][] = [];
    for (let i = 0; i < runs; i++) rows.push(...(await throughput(env('BENCH_WORKER_RUNS', 20))));
    const medianOf = (prefix: string) => {
      const mine = rows.filter((r) => String(r[0]).startsWith(prefix));
      return [
        `median of ${mine.length}: ${prefix}`,
        ...[1, 2, 3, 4, 5].map((c) => median(mine.map((r) => Number(r[c]))).toFixed(c === 1 ? 0 : 2)),
        mine[0]?.[6] ?? '',
        '',
      ];
    };
    printTable(
      'Throughput: 2 servers (one PostgreSQL), 4 workers x 4 slots, runs of 50 tasks with one `true` cube',
      [
        'what',
        'tasks/s',
        'server CPU ms/task',
        'worker CPU ms/task',
        'cube CPU ms/task',
        'postgres CPU ms/task',
        'target',
        'load',
      ],
      [...rows, medianOf('tasks on 4 workers'), medianOf('baseline')],
    );
  },
  idle: async () =>
    printTable(
      'Idle workers connected to one server (SQLite)',
      ['what', 'server CPU % of a core', 'server RSS MB', 'CPU delta', 'RSS delta MB', 'load'],
      await idleCost(env('BENCH_IDLE_WORKERS', 200), env('BENCH_IDLE_SECONDS', 30)),
    ),
  kill: async (runs) => {
    const got = await killRecovery(env('BENCH_KILL_ROUNDS', 2 * runs));
    printTable(
      `kill -9 of a worker mid-task -> its cube runs again on the other worker (ms; worker lease ${got.leaseMs} ms)`,
      ['what', 'p50', 'p99', 'max', 'target', 'load'],
      [
        [
          `kill -9 -> attempt 2 started (n=${got.values.length})`,
          percentile(got.values, 50).toFixed(0),
          percentile(got.values, 99).toFixed(0),
          Math.max(...got.values).toFixed(0),
          '< 5000',
          got.load,
        ],
      ],
    );
  },
};
