import { benchLogThroughput } from './run-log-throughput.js';
import { benchOverhead } from './run-overhead.js';

/** `npm run bench`: every benchmark, each printed as a table. BENCH_RUNS sets the repetitions. */
const runs = Number(process.env.BENCH_RUNS ?? 5);
console.log(
  `Conveyor benchmarks on ${process.platform}/${process.arch}, Node ${process.version}; ${runs} runs each`,
);
await benchOverhead(runs);
await benchLogThroughput(Math.max(1, Math.ceil(runs / 2)));
if (process.env.BENCH_ONLY !== 'run') {
  const { benchServerAll } = await import('./server-bench.js');
  await benchServerAll(runs);
}
