import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '../helpers/cli.js';
import { processesWith } from '../helpers/processes.js';
import { tempRepo } from '../helpers/repo.js';
import { registerRepo, startTestServer, type TestServer } from '../helpers/server.js';
import { startWorker, workerToken, type TestWorker } from '../helpers/workers.js';

interface RunJson {
  slug: string;
  status: string;
  error_messages: string[];
}

const marker = `${Math.floor(Math.random() * 1e6)}`;
const KINDS = ['cgroup', 'pid-namespace'] as const;

/** One workflow per containment kind: the first worker starts sleepers of every kind, then hangs. */
function config(): string {
  const workflows = KINDS.map(
    (kind, k) => `  ${kind}:
    tasks:
      - name: t
        runs_on: [${kind}]
        cubes:
          - name: c
            script:
              - echo "start on $CONVEYOR_WORKER"
              - if [ "$CONVEYOR_WORKER" != first-${kind} ]; then echo "done on $CONVEYOR_WORKER"; exit 0; fi
              - setsid sleep 3${marker}${k}.1 &
              - nohup sleep 3${marker}${k}.2 > /dev/null 2>&1 &
              - (trap '' TERM HUP; exec sleep 3${marker}${k}.3) &
              - python3 -c "import os; os.fork() == 0 and (os.setsid(), os.fork() == 0 and os.execvp('sleep', ['sleep', '3${marker}${k}.4']))"
              - sleep 3${marker}${k}.5`,
  );
  return `workflows:\n${workflows.join('\n')}\n`;
}

describe('worker containment: kill -9 of a worker ends every process its tasks started', () => {
  let t: TestServer;
  let token: string;
  const workers: TestWorker[] = [];
  const base = '/repos/acme/app';

  before(async () => {
    t = await startTestServer({ env: { CONVEYOR_WORKER_LEASE_MS: '3000' } });
    await registerRepo(t, tempRepo({ '.conveyor/ci.yaml': config() }));
    token = await workerToken(t);
  });
  after(async () => {
    await Promise.all(workers.map((w) => w.stop()));
    await t.close();
    for (const pid of processesWith(`3${marker}`)) process.kill(pid, 'SIGKILL');
  });

  KINDS.forEach((kind, k) => {
    it(`${kind}: no setsid, nohup or double-forked sleeper is alive 5 s after kill -9; the task runs again elsewhere`, async () => {
      const env = { CONVEYOR_WORKER_CONTAINMENT: kind };
      const first = await startWorker(t.url, token, { name: `first-${kind}`, tags: [kind], env });
      workers.push(first);
      assert.match(
        first.output(),
        new RegExp(`contained by a ${kind === 'cgroup' ? 'cgroup v2' : 'PID namespace'} per task`),
      );
      const run = (await t.api<RunJson>('POST', `${base}/cicd/runs`, { workflows: [{ name: kind }] })).body;
      const logOf = async () =>
        (await t.api<{ logs: string }>('GET', `${base}/cicd/logs/${run.slug}/${kind}/t/c`)).body.logs;
      await waitFor(
        async () => (await logOf()).includes(`start on first-${kind}`) || undefined,
        'the cube to start',
      );
      const sleepers = () => processesWith(`sleep 3${marker}${k}.`);
      await waitFor(() => sleepers().length >= 5 || undefined, 'the five sleepers to start', 20_000);
      first.child.kill('SIGKILL');
      await first.exited;
      const killedAt = Date.now();
      await waitFor(() => sleepers().length === 0 || undefined, 'every sleeper to end', 5000).catch(
        (error: unknown) => {
          throw new Error(`${String(error)}: ${JSON.stringify(sleepers())} alive\n${first.output()}`);
        },
      );
      assert.ok(Date.now() - killedAt < 5000);
      workers.push(await startWorker(t.url, token, { name: `second-${kind}`, tags: [kind], env }));
      const ended = await waitFor(
        async () => {
          const got = await t.api<RunJson>('GET', `${base}/cicd/runs/${run.slug}`);
          return ['success', 'failed', 'canceled'].includes(got.body.status) ? got.body : undefined;
        },
        `run ${run.slug} to end`,
        30_000,
      );
      assert.equal(ended.status, 'success', JSON.stringify(ended));
      assert.ok(
        ended.error_messages.some((m) =>
          /worker first-\S+ lost its lease .*retried on another worker/.test(m),
        ),
        JSON.stringify(ended.error_messages),
      );
      const retried = new RegExp(
        `start on first-${kind}\\n.*retried on another worker\\n.*done on second-${kind}\\n`,
        's',
      );
      await waitFor(async () => retried.test(await logOf()) || undefined, 'the log of both attempts').catch(
        async (error: unknown) => {
          throw new Error(`${String(error)}: ${JSON.stringify(await logOf())}`);
        },
      );
    });
  });
});
