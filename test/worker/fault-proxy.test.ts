import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '../helpers/cli.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { sharedRecord, tempRepo } from '../helpers/repo.js';
import { registerRepo, startTestServer, type TestServer } from '../helpers/server.js';
import { startWorker, workerToken, type TestWorker } from '../helpers/workers.js';

interface RunJson {
  id: string;
  slug: string;
  status: string;
  error_messages: string[];
  workflows: { tasks: { slug: string; cubes: { id: string; slug: string }[] }[] }[];
}

const TASKS = 4;
const BURSTS = 8;
const LINES = 5000;
const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

/** What cube `t` prints: BURSTS bursts of LINES lines (about 2.4 MB), 100 ms apart. */
function expectedLog(task: string): string {
  let out = '';
  for (let j = 1; j <= BURSTS; j++)
    for (let i = 1; i <= LINES; i++)
      out += `${task} burst ${j} line ${String(i).padStart(5, '0')} abcdefghijklmnopqrstuvwxyz0123456789\n`;
  return out;
}

function config(record: string): string {
  const tasks = Array.from(
    { length: TASKS },
    (_, n) => `      - name: t${n}
        runs_on: [fp]
        cubes:
          - name: c
            script:
              - echo "t${n} $CONVEYOR_WORKER" >> ${record}
              - for j in $(seq 1 ${BURSTS}); do awk -v j=$j 'BEGIN { for (i = 1; i <= ${LINES}; i++) printf "t${n} burst %d line %05d abcdefghijklmnopqrstuvwxyz0123456789\\n", j, i }'; sleep 0.1; done
              - mkdir -p out && seq 1 100000 > out/seq.txt && yes "artifact of t${n}" | head -n 20000 > out/yes.txt
            artifacts:
              paths: [out/seq.txt, out/yes.txt]`,
  );
  return `workflows:\n  logs:\n    tasks:\n${tasks.join('\n')}\n`;
}

describe('uploads through a proxy that loses 20% of answers and resets 5% of connections', () => {
  let t: TestServer;
  let proxy: FaultProxy;
  const workers: TestWorker[] = [];
  const record = sharedRecord();
  const base = '/repos/acme/app/cicd';

  before(async () => {
    t = await startTestServer();
    await registerRepo(t, tempRepo({ '.conveyor/ci.yaml': config(record) }));
    proxy = await startFaultProxy(t.url, { dropResponses: 0.2, resetConnections: 0.05 });
    const token = await workerToken(t);
    for (const name of ['fp1', 'fp2'])
      workers.push(await startWorker(proxy.url, token, { name, tags: ['fp'], slots: 2 }));
  });
  after(async () => {
    await Promise.all(workers.map((w) => w.stop()));
    await proxy?.close();
    await t?.close();
  });

  it('stores every log byte-identical and every artifact with its sha256; each task runs once', async () => {
    const started = (await t.api<RunJson>('POST', `${base}/runs`, { workflows: [{ name: 'logs' }] })).body;
    const run = await waitFor(
      async () => {
        const got = await t.api<RunJson>('GET', `${base}/runs/${started.slug}`);
        return ['success', 'failed', 'canceled', 'timeout'].includes(got.body.status) ? got.body : undefined;
      },
      'the run to end',
      180_000,
    );
    const context = `seed ${proxy.seed}, ${JSON.stringify(proxy.stats)}\n${workers.map((w) => w.output()).join('\n')}`;
    assert.equal(run.status, 'success', `${JSON.stringify(run)}\n${context}`);
    assert.deepEqual(run.error_messages, [], context);
    assert.ok(proxy.stats.dropped > 10 && proxy.stats.reset > 0, context);

    const ran = readFileSync(record, 'utf8').trim().split('\n');
    assert.equal(ran.length, TASKS, `each task ran once: ${ran.join(', ')}`);
    assert.equal(new Set(ran.map((line) => line.split(' ')[0])).size, TASKS);

    // The server's own log store: rows while the cube runs, one object once compacted.
    const store = t.server.composed.ctx.logs;
    const seq = Array.from({ length: 100_000 }, (_, i) => `${i + 1}\n`).join('');
    for (const task of run.workflows[0]?.tasks ?? []) {
      const cube = task.cubes[0];
      assert.ok(cube);
      const stored = await store.readBytes(run.id, cube.id, 0, await store.size(run.id, cube.id));
      let expected = expectedLog(task.slug);
      // The cube's output, then the engine's notes on the artifacts it stored.
      const notes =
        '##[conveyor] artifact out/seq.txt: 1 file(s), 588895 bytes stored\n' +
        '##[conveyor] artifact out/yes.txt: 1 file(s), 300000 bytes stored\n';
      expected += notes;
      if (!stored.equals(Buffer.from(expected))) {
        let at = 0;
        while (stored[at] === expected.charCodeAt(at)) at++;
        const near = JSON.stringify(stored.subarray(Math.max(0, at - 120), at + 240).toString());
        assert.fail(
          `${task.slug}: the stored log (${stored.length} bytes) differs at byte ${at}: ${near}\n${context}`,
        );
      }
      assert.equal(
        sha256(stored),
        sha256(expected),
        `${task.slug}: the stored log differs from what the cube wrote`,
      );

      const listed = await t.api<{ artifacts: { local_path: string; download_url: string }[] }>(
        'GET',
        `${base}/artifacts/${run.slug}/logs/${task.slug}/c`,
      );
      const want: Record<string, string> = {
        'out/seq.txt': sha256(seq),
        'out/yes.txt': sha256(`artifact of ${task.slug}\n`.repeat(20_000)),
      };
      for (const [path, digest] of Object.entries(want)) {
        const artifact = listed.body.artifacts.find((a) => a.local_path === path);
        assert.ok(artifact, `${task.slug} ${path}: ${JSON.stringify(listed.body)}`);
        const answer = await fetch(artifact.download_url);
        assert.equal(answer.status, 200);
        assert.equal(sha256(Buffer.from(await answer.arrayBuffer())), digest, `${task.slug} ${path}`);
      }
    }
    for (const w of workers) assert.doesNotMatch(w.output(), /stopping it/, w.output());
  });
});
