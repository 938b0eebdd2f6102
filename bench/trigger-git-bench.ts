import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp } from '../src/server/build-app.js';
import { composeServer } from '../src/server/compose.js';
import { benchRepo, printTable } from './harness.js';

const TOKEN = 'bench-admin-token-0123456789';
const REPOS = 20;
const TICK_MS = 100;

/**
 * A `git` first on PATH that counts its calls, then runs the real one: every git process the
 * server starts (they are spawned by name) is counted.
 */
function gitCounter(): { count(): number; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'conveyor-bench-git-'));
  const real = execFileSync('sh', ['-c', 'command -v git'], { encoding: 'utf8' }).trim();
  const log = join(dir, 'calls');
  writeFileSync(log, '');
  writeFileSync(join(dir, 'git'), `#!/bin/sh\necho "$1" >> '${log}'\nexec '${real}' "$@"\n`);
  chmodSync(join(dir, 'git'), 0o755);
  const path = process.env.PATH;
  process.env.PATH = `${dir}:${path ?? ''}`;
  return {
    count: () => readFileSync(log, 'utf8').split('\n').filter(Boolean).length,
    remove: () => {
      process.env.PATH = path;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Git processes a server's trigger loop starts while nothing changes, over `seconds`. */
async function measure(
  pollSeconds: number,
  seconds: number,
): Promise<{ perTick: number; perSecond: number }> {
  const counter = gitCounter();
  const dataDir = mkdtempSync(join(tmpdir(), 'conveyor-bench-triggers-'));
  let url = '';
  const composed = await composeServer(
    {
      host: '127.0.0.1',
      port: 0,
      dataDir,
      triggerTickMs: TICK_MS,
      env: { ...process.env, CONVEYOR_ADMIN_TOKEN: TOKEN },
      log: () => undefined,
    },
    () => url,
  );
  const app = await buildApp(composed.ctx);
  url = await app.listen({ host: '127.0.0.1', port: 0 });
  await composed.start();
  try {
    const api = (path: string, body: unknown) =>
      fetch(`${url}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    await api('/orgs', { slug: 'b', name: 'B' });
    const config =
      'on:\n  schedule:\n    - workflows: [w]\n      interval: 24h\nworkflows:\n  w:\n    tasks: [{name: t, cubes: [{name: c, script: ["true"]}]}]\n';
    for (let i = 0; i < REPOS; i++) {
      const clone = benchRepo({ '.conveyor/ci.yaml': config });
      await api('/orgs/b/repos', {
        slug: `r${i}`,
        name: `R${i}`,
        clone_url: clone,
        poll_interval_seconds: pollSeconds,
      });
    }
    await new Promise((r) => setTimeout(r, 2000)); // first polls and first config reads settle
    const before = counter.count();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const calls = counter.count() - before;
    return { perTick: calls / ((seconds * 1000) / TICK_MS), perSecond: calls / seconds };
  } finally {
    await app.close();
    await composed.stop(0);
    rmSync(dataDir, { recursive: true, force: true });
    counter.remove();
  }
}

/** Git processes the trigger loop starts for repositories that did not change. */
export async function benchTriggerGit(runs: number): Promise<void> {
  const seconds = Math.max(3, runs);
  const schedulesOnly = await measure(0, seconds);
  const polled = await measure(1, seconds);
  printTable(
    `Trigger loop, ${REPOS} unchanged repositories with a schedule, tick ${TICK_MS} ms, ${seconds} s (git processes started)`,
    ['what', 'per tick', 'per second'],
    [
      ['schedules only (no polling)', schedulesOnly.perTick.toFixed(2), schedulesOnly.perSecond.toFixed(1)],
      ['schedules + polling every 1 s', polled.perTick.toFixed(2), polled.perSecond.toFixed(1)],
    ],
  );
}
