import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { waitFor } from '../helpers/cli.js';
import { tempPostgresUrl } from '../helpers/postgres.js';
import { tempDir, tempRepo } from '../helpers/repo.js';
import { cubeLog, runEnded } from '../helpers/runs.js';
import {
  ADMIN_TOKEN,
  registerRepo,
  serverProcess,
  startTestServer,
  type TestServer,
} from '../helpers/server.js';
import { startWorker, workerToken, type TestWorker } from '../helpers/workers.js';

const LINES = 160;
const CONFIG = `workflows:
  chatty:
    tasks:
      - name: remote
        runs_on: [linux]
        cubes:
          - name: c
            script:
              - for i in $(seq 1 ${LINES}); do echo "line $i $(printf '%*s' $i '' | tr ' ' x)"; sleep 0.05; done
`;
const EXPECTED = Array.from({ length: LINES }, (_, i) => `line ${i + 1} ${'x'.repeat(i + 1)}\n`).join('');
const REPO = 'acme/app';
const CUBE = 'chatty/remote/c';

/** Page 1 of a cube's log as one replica serves it (the whole log: it is under a page). */
async function page1(server: string, slug: string): Promise<string> {
  const response = await fetch(`${server}/repos/${REPO}/cicd/logs/${slug}/${CUBE}?page=1`, {
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
  });
  const body = (await response.json()) as { logs: string };
  assert.equal(response.status, 200, JSON.stringify(body));
  return body.logs;
}

/** `conveyor server` as a process of its own, to be killed (-9) as a replica dies. */
function replica(dataDir: string, databaseUrl: string, blobStore: string): ReturnType<typeof serverProcess> {
  return serverProcess(
    [
      '--port',
      '0',
      '--data-dir',
      dataDir,
      '--database-url',
      databaseUrl,
      '--blob-store',
      blobStore,
      '--embedded-workers',
      '0',
    ],
    { CONVEYOR_ADMIN_TOKEN: ADMIN_TOKEN, CONVEYOR_SECRET_KEY: 'test-secret-key-0123456789' },
    20_000,
  );
}

/**
 * Follows a cube's log stream on `server` from after `lastId` (Last-Event-ID) until `done` or
 * until the connection breaks (its replica died); answers the lines' texts and the last id.
 */
async function followLog(
  server: string,
  slug: string,
  lastId = '',
): Promise<{ texts: string[]; lastId: string; done: boolean }> {
  const texts: string[] = [];
  let done = false;
  try {
    const response = await fetch(`${server}/repos/${REPO}/cicd/logs/${slug}/${CUBE}/stream`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(lastId ? { 'last-event-id': lastId } : {}) },
      signal: AbortSignal.timeout(60_000),
    });
    let rest = '';
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      rest += Buffer.from(chunk).toString('utf8');
      const events = rest.split('\n\n');
      rest = events.pop() ?? '';
      for (const event of events) {
        if (/^event: done$/m.test(event)) done = true;
        const data = /^data: (.*)$/m.exec(event)?.[1];
        if (!/^event: line$/m.test(event) || !data) continue;
        texts.push((JSON.parse(data) as { text: string }).text);
        lastId = /^id: (\d+)$/m.exec(event)?.[1] ?? lastId;
      }
    }
  } catch {
    // the replica died under the stream: the caller goes on elsewhere
  }
  return { texts, lastId, done };
}

function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGKILL');
  return exited;
}

/**
 * Logs shared by replicas (docs/scaling.md "Logs"): B executes the run; the worker uploads to
 * replica A (a process of its own) until A is killed mid-cube, then to B. Live, B shows what A
 * received; at the end B and A (started again) read the log byte for byte as the cube wrote it,
 * from one object, and no row is left.
 */
describe('a cube log uploaded to two replicas reads whole from either', () => {
  let url = '';
  const blobDir = tempDir('conveyor-blobs-');
  const blobStore = `file://${blobDir}`;
  const aDir = tempDir('conveyor-replica-a-');
  let a: { child: ChildProcess; url: string } | undefined;
  let b: TestServer;
  let worker: TestWorker | undefined;

  before(async () => {
    url = await tempPostgresUrl();
    b = await startTestServer({ databaseUrl: url, blobStore, embeddedWorkers: 0 });
    await registerRepo(b, tempRepo({ '.conveyor/ci.yaml': CONFIG }));
  });
  after(async () => {
    await worker?.stop();
    if (a) await kill(a.child);
    await b.close();
  });

  it('live on the replica that did not receive it, whole on both after the end', async () => {
    // Created before A exists, so B executes it; its task waits for a worker.
    const started = await b.api<{ slug: string }>('POST', `/repos/${REPO}/cicd/runs`, {
      workflows: [{ name: 'chatty' }],
    });
    assert.equal(started.status, 200, JSON.stringify(started.body));
    const { slug } = started.body;
    a = await replica(aDir, url, blobStore);
    worker = await startWorker(`${a.url},${b.url}`, await workerToken(b), { name: 'w', tags: ['linux'] });
    // A client follows the log on A; when A dies it resumes on B from the last line it got.
    const onA = followLog(a.url, slug);
    // The worker talks to A: B reads the live log from the rows A stored.
    const live = await waitFor(
      async () => {
        const text = await page1(b.url, slug);
        return text.includes('line 20 ') ? text : undefined;
      },
      'the live log on B',
      20_000,
    );
    assert.ok(EXPECTED.startsWith(live), live);
    assert.ok(EXPECTED.startsWith(await page1(a.url, slug)));
    await kill(a.child);
    const first = await onA;
    assert.ok(
      !first.done && first.texts.length >= 20,
      `the stream on A broke mid-cube: ${first.texts.length} lines`,
    );
    // A died mid-cube: the rest of the log can only reach B.
    assert.ok(!(await page1(b.url, slug)).includes(`line ${LINES} `));
    const moved = await followLog(b.url, slug, first.lastId);
    assert.ok(moved.done, 'the stream on B ran to the end');
    assert.equal(
      [...first.texts, ...moved.texts].map((t) => `${t}\n`).join(''),
      EXPECTED,
      'the moved stream continued where it was: no line lost, none twice',
    );
    const run = await runEnded(b, REPO, slug, 60_000);
    assert.equal(run.status, 'success', JSON.stringify(run));
    assert.equal(await cubeLog(b, REPO, slug, CUBE), EXPECTED);
    a = await replica(aDir, url, blobStore);
    assert.equal(await page1(a.url, slug), EXPECTED);

    // Compacted: one object of the very bytes, and no rows left.
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const ids = await client.query<{ run_id: string; id: string }>(
        `select run_id, id from run_cubes where run_id = (select id from runs where slug = $1)`,
        [Number(slug)],
      );
      const cube = ids.rows[0];
      assert.ok(cube);
      await waitFor(async () => {
        const left = await client.query('select 1 from log_chunks where run_id = $1', [cube.run_id]);
        return left.rowCount === 0 ? true : undefined;
      }, 'the rows to be compacted');
      assert.equal(readFileSync(join(blobDir, 'logs', cube.run_id, `${cube.id}.log`), 'utf8'), EXPECTED);
    } finally {
      await client.end();
    }
  });
});
