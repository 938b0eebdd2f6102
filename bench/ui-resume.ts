import { ADMIN_TOKEN, type TestServer } from '../test/helpers/server.js';
import { tempRepo } from '../test/helpers/repo.js';
import { median } from './harness.js';

const LINES = 50_000;
const EVERY = 500; // 100 disconnects

/** 100 forced disconnects during a 50,000-line stream, each resumed with Last-Event-ID. */
export async function benchLogResume(t: TestServer): Promise<string[][]> {
  const config = `workflows:\n  resume:\n    tasks:\n      - name: t\n        cubes:\n          - name: c\n            script: ['i=0; while [ $i -lt ${LINES} ]; do i=$((i+1)); echo "line $i"; if [ $((i % 2500)) = 0 ]; then sleep 0.05; fi; done']\n`;
  await t.api('POST', '/orgs/acme/repos', {
    name: 'resume',
    slug: 'resume',
    clone_url: tempRepo({ '.conveyor/ci.yaml': config }),
    poll_interval_seconds: 0,
  });
  const run = await t.api<{ slug: string }>('POST', '/repos/acme/resume/cicd/runs', {
    workflows: [{ name: 'resume' }],
  });
  const url = `${t.url}/repos/acme/resume/cicd/logs/${run.body.slug}/resume/t/c/stream`;
  const seen = new Map<number, number>();
  let lastId = '';
  let disconnects = 0;
  const reconnects: number[] = [];
  const t0 = Date.now();
  for (let done = false; !done;) {
    const abort = new AbortController();
    const r0 = Date.now();
    const response = await fetch(url, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(lastId ? { 'last-event-id': lastId } : {}) },
      signal: abort.signal,
    });
    let got = 0;
    let first = true;
    let buffer = '';
    const decoder = new TextDecoder();
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let end: number;
        while (!abort.signal.aborted && (end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (/^event: done$/m.test(block)) done = true;
          const data = /^event: line\ndata: (.*)$/m.exec(block.replace(/^id: .*\n/, ''))?.[1];
          if (!data) continue;
          if (first && lastId) reconnects.push(Date.now() - r0);
          first = false;
          const line = JSON.parse(data) as { n: number };
          seen.set(line.n, (seen.get(line.n) ?? 0) + 1);
          lastId = String(line.n + 1);
          if (++got >= EVERY) {
            disconnects++;
            abort.abort();
          }
        }
        if (done || abort.signal.aborted) break;
      }
    } catch (error) {
      if (!abort.signal.aborted) throw error;
    }
  }
  let lost = 0;
  let duplicated = 0;
  for (let n = 0; n < LINES; n++) {
    const c = seen.get(n) ?? 0;
    if (c === 0) lost++;
    if (c > 1) duplicated += c - 1;
  }
  return [
    [
      `${disconnects} forced disconnects during a ${LINES}-line stream: lines lost / duplicated`,
      `${lost} / ${duplicated}`,
      '0 / 0',
      lost + duplicated === 0 ? 'ok' : 'FAIL',
    ],
    [
      'reconnect → first line again (median; max)',
      `${median(reconnects)} ms; ${Math.max(...reconnects)} ms`,
      '3000 ms',
      (Math.max(...reconnects) / 3000).toFixed(2),
    ],
    ['whole stream, with the reconnects', `${Date.now() - t0} ms`, '', ''],
  ];
}
