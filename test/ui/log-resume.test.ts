import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ADMIN_TOKEN, registerRepo, startTestServer, type TestServer } from '../helpers/server.js';
import { tempRepo } from '../helpers/repo.js';

const LINES = 10_000;
const EVERY = 100; // a forced disconnect after this many lines: 100 of them (bench/ runs 50,000 lines)

const CONFIG = `workflows:
  big:
    tasks:
      - name: t
        cubes:
          - name: c
            script:
              - 'i=0; while [ $i -lt ${LINES} ]; do i=$((i+1)); echo "line $i"; if [ $((i % 500)) = 0 ]; then sleep 0.05; fi; done'
`;

/** Reads a log stream until `limit` lines or the end; returns the lines and the last event id. */
async function readSome(
  url: string,
  lastId: string,
  limit: number,
): Promise<{ lines: { n: number; text: string }[]; lastId: string; done: boolean }> {
  const abort = new AbortController();
  const response = await fetch(url, {
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(lastId ? { 'last-event-id': lastId } : {}) },
    signal: abort.signal,
  });
  assert.equal(response.status, 200);
  const lines: { n: number; text: string }[] = [];
  let buffer = '';
  let id = lastId;
  const decoder = new TextDecoder();
  try {
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        const blockId = /^id: (.*)$/m.exec(block)?.[1];
        if (event === 'done') return { lines, lastId: id, done: true };
        if (event !== 'line' || !data) continue;
        lines.push(JSON.parse(data) as { n: number; text: string });
        if (blockId) id = blockId;
        if (lines.length >= limit) {
          abort.abort();
          return { lines, lastId: id, done: false };
        }
      }
    }
  } catch (error) {
    if (!abort.signal.aborted) throw error;
  }
  return { lines, lastId: id, done: false };
}

describe('log stream: forced disconnects', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer();
    await registerRepo(t, tempRepo({ '.conveyor/ci.yaml': CONFIG }));
  });
  after(async () => t?.close());

  it(`loses and duplicates nothing over ${LINES / EVERY} reconnects with Last-Event-ID during a ${LINES}-line stream`, async () => {
    const run = await t.api<{ slug: string }>('POST', '/repos/acme/app/cicd/runs', {
      workflows: [{ name: 'big' }],
    });
    assert.equal(run.status, 200);
    const url = `${t.url}/repos/acme/app/cicd/logs/${run.body.slug}/big/t/c/stream`;
    const got: { n: number; text: string }[] = [];
    let lastId = '';
    let disconnects = 0;
    let duringRun = 0;
    for (;;) {
      const part = await readSome(url, lastId, EVERY);
      got.push(...part.lines);
      lastId = part.lastId;
      if (part.done) break;
      disconnects++;
      const state = await t.api<{ status: string }>('GET', `/repos/acme/app/cicd/runs/${run.body.slug}`);
      if (state.body.status === 'processing') duringRun++;
    }
    assert.equal(got.length, LINES);
    got.forEach((line, i) => {
      assert.equal(line.n, i);
      assert.equal(line.text, `line ${i + 1}`);
    });
    assert.ok(disconnects >= 100, `${disconnects} disconnects`);
    assert.ok(duringRun > 0, 'some disconnects happened while the cube was still writing');
  });
});
