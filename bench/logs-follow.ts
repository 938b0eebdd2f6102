import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchRepo, CONVEYOR, median, printTable } from './harness.js';

const TOKEN = 'bench-logs-follow-token-0123456789';
const LINES = 20;

// Each line carries the time it was written (ms since the epoch, from the cube's own clock).
const CONFIG = `on:
  push: []
workflows:
  build:
    tasks:
      - name: t
        cubes:
          - name: ticker
            script:
              - 'for i in $(seq 1 ${LINES}); do echo "tick $i $(date +%s%3N)"; sleep 0.25; done'
`;

/** Arrival time minus write time of every `tick N MS` line a reader prints. */
function latencies(arrivals: Map<string, number>): number[] {
  const out: number[] = [];
  for (const [line, at] of arrivals) {
    const written = Number(/^tick \d+ (\d+)$/.exec(line)?.[1]);
    if (written) out.push(at - written);
  }
  return out;
}

function startServer(dataDir: string): Promise<{ url: string; stop: () => void }> {
  return new Promise((resolve, reject) => {
    const child = spawn(CONVEYOR, ['server', '--port', '0', '--data-dir', dataDir, '--log-level', 'warn'], {
      env: { ...process.env, CONVEYOR_ADMIN_TOKEN: TOKEN },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const url = /listening on (\S+)/.exec(out)?.[1];
      if (url) resolve({ url, stop: () => child.kill('SIGTERM') });
    });
    child.on('error', reject);
  });
}

async function cli(env: Record<string, string>, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(CONVEYOR, args, {
      env: { ...process.env, ...env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('close', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`conveyor ${args.join(' ')}: exit ${code}`)),
    );
  });
}

/** `conveyor runs logs RUN PATH --follow` as a person runs it: the time each line reaches its stdout. */
function follow(env: Record<string, string>, run: string): Promise<Map<string, number>> {
  return new Promise((resolve) => {
    const arrivals = new Map<string, number>();
    const child = spawn(CONVEYOR, ['runs', 'logs', run, 'build/t/ticker', '--follow'], {
      env: { ...process.env, ...env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let buffer = '';
    child.stdout.on('data', (d: Buffer) => {
      const now = Date.now();
      buffer += d.toString();
      const lines = buffer.split('\n');
      buffer = lines.pop() ?? '';
      for (const line of lines) if (!arrivals.has(line)) arrivals.set(line, now);
    });
    child.on('close', () => resolve(arrivals));
  });
}

/** The baseline: a client that polls the log page once a second until the cube ends. */
async function poll(url: string, run: string): Promise<Map<string, number>> {
  const arrivals = new Map<string, number>();
  const headers = { authorization: `Bearer ${TOKEN}` };
  for (;;) {
    const page = (await (
      await fetch(`${url}/repos/acme/app/cicd/logs/${run}/build/t/ticker?page=1`, { headers })
    ).json()) as {
      logs: string;
      done: boolean;
    };
    const now = Date.now();
    for (const line of page.logs.split('\n')) if (line && !arrivals.has(line)) arrivals.set(line, now);
    if (page.done) return arrivals;
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** `runs logs --follow` (the event stream) against a 1 s polling client, on one server in one run. */
export async function benchLogsFollow(runs: number): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'conveyor-bench-follow-'));
  const server = await startServer(dataDir);
  const env = {
    CONVEYOR_SERVER: server.url,
    CONVEYOR_TOKEN: TOKEN,
    CONVEYOR_REPO: 'acme/app',
    XDG_CONFIG_HOME: dataDir,
  };
  try {
    await cli(env, ['orgs', 'create', 'acme']);
    await cli(env, [
      'repos',
      'create',
      'acme/app',
      '--clone-url',
      benchRepo({ '.conveyor/ci.yaml': CONFIG }),
      '--poll',
      '0',
    ]);
    const stream: number[] = [];
    const polled: number[] = [];
    for (let i = 0; i < runs; i++) {
      const run = (await cli(env, ['runs', 'trigger', 'build', '-q'])).trim();
      const [a, b] = await Promise.all([follow(env, run), poll(server.url, run)]);
      stream.push(...latencies(a));
      polled.push(...latencies(b));
    }
    const s = median(stream);
    const p = median(polled);
    printTable(
      `runs logs --follow: line written by the cube -> printed (${runs} runs x ${LINES} lines, 4 lines/s)`,
      ['reader', 'median ms', 'p90 ms', 'lines', 'vs polling'],
      [
        [
          'conveyor runs logs --follow (event stream)',
          s.toFixed(0),
          pct(stream, 0.9).toFixed(0),
          stream.length,
          `${(p / s).toFixed(1)}x faster`,
        ],
        [
          'polling GET .../logs every 1 s (baseline)',
          p.toFixed(0),
          pct(polled, 0.9).toFixed(0),
          polled.length,
          '1.0x',
        ],
      ],
    );
  } finally {
    server.stop();
    setTimeout(() => rmSync(dataDir, { recursive: true, force: true }), 2000).unref();
  }
}

function pct(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
}
