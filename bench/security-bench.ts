import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchRepo, CONVEYOR, median, printTable } from './harness.js';

const TOKEN = 'bench-admin-token-0123456789';

/**
 * The security issue's figures (BENCH_ONLY=security): `/healthz` p99 and the server's RSS while a
 * 50 MB config is refused, and while four clients read a 1 GB log page by page, against the idle
 * server's p99 in the same run. The data (the config, the log) is made here, never in `npm test`.
 * BENCH_SECURITY_LOG_MB changes the log size (default 1024).
 */
export async function benchSecurity(runs: number): Promise<void> {
  const logMb = Number(process.env.BENCH_SECURITY_LOG_MB ?? 1024);
  const server = await serverProcess();
  try {
    const repo = benchRepo({
      '.conveyor/ci.yaml': `workflows:\n  big:\n    tasks: [{name: t, cubes: [{name: c, script: ["head -c ${logMb * 1024 * 1024} /dev/zero | tr '\\\\0' a; echo; echo tail-line"]}]}]\n  ok:\n    tasks: [{name: t, cubes: [{name: c, script: [echo ok]}]}]\n`,
    });
    hugeBranch(repo);
    await server.api('POST', '/orgs', { slug: 'acme', name: 'acme' });
    await server.api('POST', '/orgs/acme/repos', {
      slug: 'app',
      name: 'app',
      clone_url: repo,
      poll_interval_seconds: 0,
    });
    const run = await server.api<{ slug: string }>('POST', '/repos/acme/app/cicd/runs', {
      workflows: [{ name: 'big' }],
    });
    await until(async () => {
      const got = await server.api<{ status: string }>('GET', `/repos/acme/app/cicd/runs/${run.slug}`);
      return got.status !== 'created' && got.status !== 'processing';
    });

    const idle = await probe(server, 3000, () => Promise.resolve());
    const configs: number[] = [];
    const refused = await probe(server, 0, async () => {
      for (let i = 0; i < runs; i++) {
        const started = performance.now();
        const answer = await fetch(`${server.url}/repos/acme/app/cicd/runs`, {
          method: 'POST',
          headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
          body: JSON.stringify({ workflows: [{ name: 'ok' }], head: { branch: 'huge' } }),
        });
        await answer.text();
        if (answer.status !== 400) throw new Error(`the 50 MB config got ${answer.status}`);
        configs.push(performance.now() - started);
      }
    });
    let pages = 0;
    const readers = await probe(server, 0, async () => {
      await Promise.all(
        [1, 2, 3, 4].map(async () => {
          for (let page = 1; ; page++) {
            const answer = await fetch(
              `${server.url}/repos/acme/app/cicd/logs/${run.slug}/big/t/c?page=${page}`,
              {
                headers: { authorization: `Bearer ${TOKEN}` },
              },
            );
            const text = await answer.text();
            if (answer.status !== 200) throw new Error(`log page ${page}: ${answer.status}`);
            pages++;
            if (text.endsWith('"done":true}')) return;
          }
        }),
      );
    });
    const ratio = (p99: number) => (idle.p99 > 0 ? (p99 / idle.p99).toFixed(1) : '-');
    printTable(
      `Security and reliability: /healthz under hostile load (${runs} refusals of a 50 MB config; 4 readers of a ${logMb} MB log, ${pages} pages)`,
      ['measure', 'value', 'target', 'vs idle'],
      [
        ['/healthz p99, idle (ms)', idle.p99.toFixed(1), '', '1.0'],
        [
          '/healthz p99 while 50 MB configs are refused (ms)',
          refused.p99.toFixed(1),
          '< 100',
          ratio(refused.p99),
        ],
        [
          '/healthz p99 while 4 clients read the log (ms)',
          readers.p99.toFixed(1),
          '< 100',
          ratio(readers.p99),
        ],
        ['50 MB config refused, median (ms)', median(configs).toFixed(0), '', ''],
        ['server RSS peak, idle (MB)', idle.rssMb.toFixed(0), '', ''],
        ['server RSS peak while configs are refused (MB)', refused.rssMb.toFixed(0), '< 300', ''],
        ['server RSS peak while 4 clients read the log (MB)', readers.rssMb.toFixed(0), '< 300', ''],
      ],
    );
  } finally {
    await server.close();
  }
}

/** A branch `huge` whose ci.yaml is 50 MB: the probe's 51,200 env entries of 1,000 characters. */
function hugeBranch(repo: string): void {
  execFileSync('git', ['checkout', '-q', '-b', 'huge'], { cwd: repo });
  const value = 'x'.repeat(1000);
  const lines = ['workflows:', '  ok:', '    env:'];
  for (let i = 0; i < 51_200; i++) lines.push(`      V${i}: ${value}`);
  lines.push('    tasks: [{name: t, cubes: [{name: c, script: [echo]}]}]', '');
  writeFileSync(join(repo, '.conveyor/ci.yaml'), lines.join('\n'));
  execFileSync('git', ['-c', 'user.name=b', '-c', 'user.email=b@b', 'commit', '-qam', 'huge'], { cwd: repo });
  execFileSync('git', ['checkout', '-q', 'main'], { cwd: repo });
}

/**
 * /healthz latencies from a second process (its own event loop: the readers' work here does not
 * delay its clock) every 10 ms while `load` runs (at least `minMs`), and the server's peak RSS.
 */
async function probe(
  server: Server,
  minMs: number,
  load: () => Promise<void>,
): Promise<{ p99: number; rssMb: number }> {
  const prober = spawn(process.execPath, ['-e', PROBER, server.url], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  prober.stdout.on('data', (d: Buffer) => (out += d.toString()));
  let rssKb = 0;
  const sample = setInterval(() => {
    const rss = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${server.pid}/status`, 'utf8'));
    rssKb = Math.max(rssKb, Number(rss?.[1] ?? 0));
  }, 20);
  const started = performance.now();
  try {
    await load();
    const left = minMs - (performance.now() - started);
    if (left > 0) await new Promise((r) => setTimeout(r, left));
  } finally {
    clearInterval(sample);
    prober.stdin.end();
  }
  await new Promise((r) => prober.on('exit', r));
  const latencies = (JSON.parse(out || '[]') as number[]).sort((a, b) => a - b);
  const p99 = latencies[Math.min(latencies.length - 1, Math.ceil(0.99 * latencies.length) - 1)] ?? 0;
  return { p99, rssMb: rssKb / 1024 };
}

const PROBER = `
const url = process.argv[1] + '/healthz';
const latencies = [];
let stop = false;
process.stdin.on('end', () => (stop = true));
process.stdin.resume();
(async () => {
  while (!stop) {
    const t = performance.now();
    await (await fetch(url)).text();
    latencies.push(performance.now() - t);
    await new Promise((r) => setTimeout(r, 10));
  }
  process.stdout.write(JSON.stringify(latencies));
})();
`;

interface Server {
  url: string;
  pid: number;
  api<T = unknown>(method: string, path: string, body?: unknown): Promise<T>;
  close(): Promise<void>;
}

async function serverProcess(): Promise<Server> {
  const dataDir = mkdtempSync(join(tmpdir(), 'conveyor-bench-security-'));
  const child: ChildProcess = spawn(CONVEYOR, ['server', '--port', '0', '--data-dir', dataDir], {
    env: { ...process.env, CONVEYOR_ADMIN_TOKEN: TOKEN },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const url = await new Promise<string>((resolve) => {
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const found = /listening on (\S+)/.exec(out)?.[1];
      if (found) resolve(found);
    });
  });
  return {
    url,
    pid: child.pid ?? 0,
    api: async <T>(method: string, path: string, body?: unknown): Promise<T> => {
      const response = await fetch(`${url}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${TOKEN}`,
          ...(body ? { 'content-type': 'application/json' } : {}),
        },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
      if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
      return (await response.json()) as T;
    },
    close: async () => {
      child.kill('SIGTERM');
      await new Promise((r) => child.on('exit', r));
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function until(check: () => Promise<boolean>): Promise<void> {
  const end = Date.now() + 10 * 60_000;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('the big log run did not end within 10 minutes');
    await new Promise((r) => setTimeout(r, 250));
  }
}
