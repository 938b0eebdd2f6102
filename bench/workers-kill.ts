import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  cubeLog,
  finishRun,
  loadAverage,
  setUp,
  sleep,
  startRun,
  startServerProc,
  startWorkerProc,
  TAG,
  wallNow,
  type WorkerProc,
} from './workers-harness.js';

/**
 * kill -9 of a worker until its task runs again elsewhere: one server, two idle workers. The cube
 * of the first attempt prints `start <time> on <worker>` and sleeps (it made a marker directory
 * for its run first); the second attempt finds the marker and ends at once. The figure is from
 * just before `kill -9` of the worker running attempt 1 to the first line of attempt 2's cube on
 * the other worker. The killed worker is then started again on its work dir (which ends the cube
 * it left behind) for the next round. The lease is the server's default unless
 * CONVEYOR_WORKER_LEASE_MS is set.
 */
export async function killRecovery(
  rounds: number,
): Promise<{ values: number[]; load: string; leaseMs: number }> {
  const marks = mkdtempSync(join(tmpdir(), 'conveyor-bench-marks-'));
  // Run as root, a worker runs cubes as unprivileged users: the marks folder is theirs to write.
  chmodSync(marks, 0o777);
  const script = [
    `echo "start $EPOCHREALTIME on $CONVEYOR_WORKER"`,
    `if mkdir ${marks}/run-$SOURCECRAFT_RUN_ID 2>/dev/null; then sleep 600; fi`,
  ];
  const config = `workflows:\n  kill:\n    checkout: {enabled: false}\n    tasks:\n      - name: t\n        runs_on: [self-hosted, ${TAG}]\n        cubes:\n          - {name: c, script: ${JSON.stringify(script)}}\n`;
  const server = await startServerProc();
  const workers = new Map<string, WorkerProc>();
  try {
    const token = await setUp(server, config);
    const { lease_ms } = await fetch(`${server.url}/worker/v1/register`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        name: 'probe',
        tags: [],
        slots: 1,
        version: 'b',
        executor: 'native',
        containment: 'none',
      }),
    }).then((r) => r.json() as Promise<{ lease_ms: number }>);
    for (const name of ['w-kill-1', 'w-kill-2'])
      workers.set(name, await startWorkerProc([server.url], token, name));
    const load = loadAverage();
    const values: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const slug = await startRun(server, 'kill');
      let first = '';
      while (!(first = /start \S+ on (\S+)/.exec(await cubeLog(server, slug, 'kill/t/c'))?.[1] ?? ''))
        await sleep(20);
      const victim = workers.get(first);
      if (!victim) throw new Error(`attempt 1 ran on an unknown worker ${first}`);
      await sleep(200); // the task is running, not just starting
      const killedAt = wallNow();
      victim.child.kill('SIGKILL');
      await finishRun(server, slug);
      const log = await cubeLog(server, slug, 'kill/t/c');
      const again = [...log.matchAll(/start (\d+\.\d+) on (\S+)/g)].at(-1);
      if (!again || again[2] === first) throw new Error(`attempt 2 did not run elsewhere:\n${log}`);
      values.push(Number(again[1]) * 1000 - killedAt);
      // Started again on its work dir, the worker ends the cube its previous life left.
      await victim.close();
      workers.set(first, await startWorkerProc([server.url], token, first, { workDir: victim.workDir }));
    }
    return { values, load, leaseMs: lease_ms };
  } finally {
    await Promise.all([...workers.values()].map((w) => w.close()));
    await server.close();
    rmSync(marks, { recursive: true, force: true });
  }
}
