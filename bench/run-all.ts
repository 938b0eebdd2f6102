import { benchLogThroughput } from './run-log-throughput.js';
import { benchActionStart } from './action-start.js';
import { benchIdTokens } from './id-tokens.js';
import { benchOverhead } from './run-overhead.js';

/** `npm run bench`: every benchmark, each printed as a table. BENCH_RUNS sets the repetitions. */
const runs = Number(process.env.BENCH_RUNS ?? 5);
console.log(
  `Conveyor benchmarks on ${process.platform}/${process.arch}, Node ${process.version}; ${runs} runs each`,
);
// BENCH_ONLY=run,actions,oidc,server,follow,live-read,trigger-git,security,workers,blob,replicas picks parts (comma-separated); unset runs them all.
const only = (process.env.BENCH_ONLY ?? '').split(',').filter(Boolean);
const want = (part: string) => only.length === 0 || only.includes(part);
if (want('run')) {
  await benchOverhead(runs);
  await benchLogThroughput(Math.max(1, Math.ceil(runs / 2)));
}
if (want('actions')) await benchActionStart(runs);
if (want('oidc')) await benchIdTokens();
if (want('ui')) {
  const { benchUi } = await import('./ui-bench.js');
  await benchUi(runs);
}
if (want('server')) {
  const { benchServerAll } = await import('./server-bench.js');
  await benchServerAll(runs);
}
if (want('follow')) {
  const { benchLogsFollow } = await import('./logs-follow.js');
  await benchLogsFollow(Math.max(2, Math.ceil(runs / 2)));
}
if (want('live-read')) {
  const { benchLiveRead } = await import('./live-read-bench.js');
  await benchLiveRead(runs);
}
if (want('trigger-git')) {
  const { benchTriggerGit } = await import('./trigger-git-bench.js');
  await benchTriggerGit(runs);
}
if (want('security')) {
  const { benchSecurity } = await import('./security-bench.js');
  await benchSecurity(Math.max(2, Math.ceil(runs / 2)));
}
if (want('workers')) {
  const { benchWorkers } = await import('./workers-bench.js');
  await benchWorkers(runs);
}
if (want('replicas')) {
  const { benchReplicas } = await import('./replica-bench.js');
  await benchReplicas(Math.max(3, runs));
}
if (want('blob')) {
  const { benchBlob } = await import('./blob-bench.js');
  await benchBlob(Math.max(3, runs));
}
