import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Browser, Page } from 'playwright-core';
import { layeredLayout } from '../src/web/graph/layout.js';
import { shapeOf } from '../src/web/graph/shape.js';
import { CHROMIUM } from '../test/helpers/browser.js';
import { syntheticRun } from '../test/helpers/synthetic-run.js';
import { ADMIN_TOKEN, registerRepo, startTestServer, type TestServer } from '../test/helpers/server.js';
import { tempRepo } from '../test/helpers/repo.js';
import { median, printTable } from './harness.js';
import { benchLogResume } from './ui-resume.js';

const pct = (values: number[], p: number) => {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0;
};
const ms = (v: number) => v.toFixed(1);

/** Bundle sizes: gzip of the JS and CSS the run page loads (one bundle serves every route). */
function bundle(): string[][] {
  const dir = 'dist/ui/assets';
  let js = 0;
  let css = 0;
  for (const name of readdirSync(dir)) {
    if (!/\.(js|css)$/.test(name)) continue;
    const gz = gzipSync(readFileSync(join(dir, name)), { level: 9 }).length;
    if (name.endsWith('.js')) js += gz;
    else css += gz;
    void statSync;
  }
  const kb = (b: number) => (b / 1024).toFixed(1);
  return [
    ['run page JS + CSS (gzip)', `${kb(js + css)} KB`, '60 KB', ((js + css) / 1024 / 60).toFixed(2)],
    ['all routes JS + CSS (gzip)', `${kb(js + css)} KB`, '120 KB', ((js + css) / 1024 / 120).toFixed(2)],
  ];
}

/** Layout of the run graph in Node (structure → geometry), median of `runs`. */
function layout(runs: number): string[][] {
  const rows: string[][] = [];
  for (const cubes of [300, 1000]) {
    const run = syntheticRun(cubes);
    const times: number[] = [];
    for (let i = 0; i < Math.max(20, runs); i++) {
      const t0 = performance.now();
      shapeOf(run, new Set());
      times.push(performance.now() - t0);
    }
    rows.push([
      `layout + geometry, ${cubes}-cube run`,
      `${ms(median(times))} ms`,
      '20 ms',
      (median(times) / 20).toFixed(2),
    ]);
  }
  // The bare layered layout over a random 300-node DAG, as measured for dagre in the research (933 ms).
  const n = 300;
  const edges: [number, number][] = [];
  for (let v = 1; v < n; v++) for (let k = 0; k < 2; k++) edges.push([Math.floor(Math.random() * v), v]);
  const times: number[] = [];
  for (let i = 0; i < Math.max(20, runs); i++) {
    const t0 = performance.now();
    layeredLayout({ heights: new Array<number>(n).fill(30), edges, width: 200 });
    times.push(performance.now() - t0);
  }
  rows.push([
    `layered layout, random DAG ${n} nodes / ${edges.length} edges`,
    `${ms(median(times))} ms`,
    'dagre: 933 ms',
    (median(times) / 933).toFixed(4),
  ]);
  return rows;
}

async function browserPage(browser: Browser, url: string): Promise<Page> {
  // bypassCSP: the measurements evaluate code in the page (the app itself runs under its CSP in the tests).
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, bypassCSP: true });
  const page = await context.newPage();
  await page.goto(`${url}/ui/`);
  await page.getByLabel('Personal access token').fill(ADMIN_TOKEN);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Repositories' }).waitFor();
  return page;
}

const painted = (page: Page) =>
  page.evaluate('new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)))');

/** A 300- and a 1000-cube run drawn: navigation to every node painted (API answers served by the page route). */
async function drawGraph(page: Page, url: string, runs: number): Promise<string[][]> {
  const rows: string[][] = [];
  for (const [cubes, target] of [
    [300, 1000],
    [1000, 2000],
  ] as const) {
    const body = JSON.stringify(syntheticRun(cubes));
    await page.route(`${url}/repos/acme/app/cicd/runs/9${cubes}`, (r) =>
      r.fulfill({ contentType: 'application/json', body }),
    );
    await page.route(`${url}/repos/acme/app/cicd/runs/9${cubes}/events*`, (r) =>
      r.fulfill({ contentType: 'text/event-stream', body: `id: 1\nevent: run\ndata: ${body}\n\n` }),
    );
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      await page.goto(`${url}/ui/acme/app/runs`);
      const t0 = Date.now();
      await page.goto(`${url}/ui/acme/app/runs/9${cubes}`);
      await page
        .locator('a.cube')
        .nth(cubes - 1)
        .waitFor({ state: 'attached' });
      await painted(page);
      times.push(Date.now() - t0);
    }
    rows.push([
      `${cubes}-cube run: navigation → graph painted (p50; p95)`,
      `${median(times)} ms; ${pct(times, 95)} ms`,
      `${target} ms`,
      (pct(times, 95) / target).toFixed(2),
    ]);
  }
  return rows;
}

const STATUS_CONFIG = (gate: string) => `workflows:
  many:
    tasks:
      - name: t
        cubes:
${Array.from({ length: 24 }, (_, i) => `          - name: c${i}\n            script: ['while [ ! -f ${gate} ]; do sleep 0.02; done; sleep 0.${String(i * 4).padStart(2, '0')}']`).join('\n')}
`;

/** Cube status change (its finished_at) → the node's class changed on the open page, then painted. */
async function statusRepaint(t: TestServer, page: Page): Promise<string[][]> {
  const gate = join(t.dataDir, 'gate');
  await t.api('POST', '/orgs/acme/repos', {
    name: 'many',
    slug: 'many',
    clone_url: tempRepo({ '.conveyor/ci.yaml': STATUS_CONFIG(gate) }),
    poll_interval_seconds: 0,
  });
  const run = await t.api<{ slug: string }>('POST', '/repos/acme/many/cicd/runs', {
    workflows: [{ name: 'many' }],
  });
  await page.goto(`${t.url}/ui/acme/many/runs/${run.body.slug}`);
  await page.locator('a.cube').nth(23).waitFor();
  await page.evaluate(`(() => {
    const seen = {};
    window.__seen = seen;
    new MutationObserver((list) => {
      for (const m of list) {
        const el = m.target;
        const name = el.querySelector?.('.cube-name')?.textContent ?? '';
        if (el.classList.contains('s-success') && !seen[name]) requestAnimationFrame(() => (seen[name] = Date.now()));
      }
    }).observe(document.body, { attributes: true, subtree: true, attributeFilter: ['class'] });
  })()`);
  (await import('node:fs')).writeFileSync(gate, '');
  await page.locator('a.cube.s-success').nth(23).waitFor({ timeout: 60_000 });
  await painted(page);
  const seen = await page.evaluate<Record<string, number>>('window.__seen');
  const state = await t.api<{
    workflows: { tasks: { cubes: { slug: string; dates: { finished_at: string } }[] }[] }[];
  }>('GET', `/repos/acme/many/cicd/runs/${run.body.slug}`);
  const lags = (state.body.workflows[0]?.tasks[0]?.cubes ?? []).map(
    (c) => (seen[c.slug] ?? NaN) - Date.parse(c.dates.finished_at),
  );
  return [
    [
      `status change → node repainted, ${lags.length} cubes (p50; p99)`,
      `${median(lags)} ms; ${pct(lags, 99)} ms`,
      '300 ms (p99)',
      (pct(lags, 99) / 300).toFixed(2),
    ],
  ];
}

const RATE_CONFIG = `workflows:
  rate:
    tasks:
      - name: t
        cubes:
          - name: c
            script: ['for b in $(seq 1 300); do for k in 1 2 3 4 5 6 7 8 9 10; do echo "t=$EPOCHREALTIME"; done; sleep 0.01; done']
`;

/** A cube writing about 1,000 lines/s: each line carries its write time; the page records when it paints it. */
async function lineLatency(t: TestServer, page: Page): Promise<string[][]> {
  await t.api('POST', '/orgs/acme/repos', {
    name: 'rate',
    slug: 'rate',
    clone_url: tempRepo({ '.conveyor/ci.yaml': RATE_CONFIG }),
    poll_interval_seconds: 0,
  });
  const run = await t.api<{ slug: string }>('POST', '/repos/acme/rate/cicd/runs', {
    workflows: [{ name: 'rate' }],
  });
  await page.goto(`${t.url}/ui/acme/rate/runs/${run.body.slug}/rate/t/c`);
  await page.locator('.log-scroll').waitFor();
  await page.evaluate(`(() => {
    const lags = [];
    const seen = new Set();
    window.__lags = lags;
    new MutationObserver(() => {
      const fresh = [];
      for (const row of document.querySelectorAll('.log-row')) {
        const n = row.getAttribute('data-line') ?? '';
        if (seen.has(n)) continue;
        const m = /t=(\\d+\\.\\d+)/.exec(row.textContent ?? '');
        if (!m) continue;
        seen.add(n);
        fresh.push(Number(m[1]) * 1000);
      }
      if (fresh.length) requestAnimationFrame(() => fresh.forEach((at) => lags.push(Date.now() - at)));
    }).observe(document.querySelector('.log-rows') ?? document.body, { childList: true, subtree: true, characterData: true });
  })()`);
  await page.locator('.badge', { hasText: 'passed' }).waitFor({ timeout: 60_000 });
  const lags = await page.evaluate<number[]>('window.__lags');
  if (process.env.BENCH_DEBUG) console.log(await page.locator('.log-row').last().textContent());
  const steady = lags.slice(Math.floor(lags.length * 0.05)); // after the page attached
  return [
    [
      `log line written → painted at ~1,000 lines/s, ${steady.length} lines (p50; p99)`,
      `${median(steady).toFixed(0)} ms; ${pct(steady, 99).toFixed(0)} ms`,
      '100 ms; 300 ms',
      (pct(steady, 99) / 300).toFixed(2),
    ],
  ];
}

/** Finished logs of 100k and 1M lines: first lines, scroll frames, tail and an exact search count. */
async function bigLogs(t: TestServer, page: Page): Promise<string[][]> {
  const config = `workflows:\n  big:\n    tasks:\n      - name: t\n        cubes:\n          - name: k100\n            script: ['seq 1 100000']\n          - name: m1\n            script: ['seq 1 1000000']\n`;
  await t.api('POST', '/orgs/acme/repos', {
    name: 'big',
    slug: 'big',
    clone_url: tempRepo({ '.conveyor/ci.yaml': config }),
    poll_interval_seconds: 0,
  });
  const run = await t.api<{ slug: string }>('POST', '/repos/acme/big/cicd/runs', {
    workflows: [{ name: 'big' }],
  });
  for (let i = 0; i < 600; i++) {
    const r = await t.api<{ status: string }>('GET', `/repos/acme/big/cicd/runs/${run.body.slug}`);
    if (r.body.status === 'success') break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const rows: string[][] = [];
  const base = `${t.url}/ui/acme/big/runs/${run.body.slug}/big/t`;
  // Warm the server's parse of each log once (the first reader of a finished log pays it).
  await fetch(`${t.url}/repos/acme/big/cicd/logs/${run.body.slug}/big/t/m1/lines?tail=1`, {
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
  });
  let t0 = Date.now();
  await page.goto(`${base}/k100`);
  await page.locator('.log-row', { hasText: /^100000100000$/ }).waitFor();
  await painted(page);
  rows.push([
    '100k-line log: navigation → tail lines painted',
    `${Date.now() - t0} ms`,
    '500 ms',
    ((Date.now() - t0) / 500).toFixed(2),
  ]);
  const frames = await page.evaluate<number[]>(`new Promise((resolve) => {
    const el = document.querySelector('.log-scroll');
    el.scrollTop = 0;
    const out = [];
    let last = performance.now();
    const step = (n) => {
      const now = performance.now();
      if (n > 0) out.push(now - last);
      last = now;
      if (n === 120) return resolve(out);
      el.scrollTop += 300;
      requestAnimationFrame(() => step(n + 1));
    };
    requestAnimationFrame(() => step(0));
  })`);
  rows.push([
    '100k-line log: scroll frames, 120 × 300 px (p50; p95)',
    `${ms(median(frames))} ms; ${ms(pct(frames, 95))} ms`,
    '20 ms (p95)',
    (pct(frames, 95) / 20).toFixed(2),
  ]);
  t0 = Date.now();
  await page.goto(`${base}/m1`);
  await page.locator('.log-row', { hasText: /^10000001000000$/ }).waitFor();
  await painted(page);
  rows.push([
    '1M-line log: navigation → tail painted',
    `${Date.now() - t0} ms`,
    '1000 ms',
    ((Date.now() - t0) / 1000).toFixed(2),
  ]);
  // Lines of 1..1,000,000 that contain "777": counted here the same way, to check the page's count.
  let expected = 0;
  for (let i = 1; i <= 1_000_000; i++) if (String(i).includes('777')) expected++;
  t0 = Date.now();
  await page.getByRole('searchbox', { name: 'Search the log' }).fill('777');
  await page.getByText(`${expected} matches`).waitFor({ timeout: 20_000 });
  rows.push([
    `1M-line log: search "777", exact count ${expected} shown (incl. 150 ms typing pause)`,
    `${Date.now() - t0} ms`,
    '1000 ms',
    ((Date.now() - t0) / 1000).toFixed(2),
  ]);
  await page.locator('.log-scroll').evaluate((el: { scrollTop: number }) => (el.scrollTop = 0));
  await page.locator('.log-row[data-line="1"]').waitFor();
  rows.push(['1M-line log: scrolled to the first line (past the browser height limit)', 'ok', '', '']);
  return rows;
}

/** `BENCH_ONLY=ui`: the web UI's figures against the targets of docs/web-ui.md (ratio = measured / target). */
export async function benchUi(runs: number): Promise<void> {
  const header = ['what', 'measured', 'target', 'ratio'];
  printTable('Web UI bundle', header, bundle());
  printTable(`Run graph layout (Node, median of ${Math.max(20, runs)})`, header, layout(runs));
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  const t = await startTestServer();
  try {
    await registerRepo(
      t,
      tempRepo({
        '.conveyor/ci.yaml': 'workflows:\n  w:\n    tasks: [{name: t, cubes: [{name: c, script: [echo]}]}]\n',
      }),
    );
    const page = await browserPage(browser, t.url);
    // BENCH_UI=graph,live,logs,resume picks parts (comma-separated); unset runs them all.
    const parts = (process.env.BENCH_UI ?? 'graph,live,logs,resume').split(',');
    if (parts.includes('graph'))
      printTable(
        `Run graph in Chromium (${runs} navigations each)`,
        header,
        await drawGraph(page, t.url, runs),
      );
    if (parts.includes('live'))
      printTable('Live updates in Chromium (real server, real cubes)', header, [
        ...(await statusRepaint(t, page)),
        ...(await lineLatency(t, page)),
      ]);
    if (parts.includes('logs')) printTable('Big logs in Chromium', header, await bigLogs(t, page));
    if (parts.includes('resume'))
      printTable('Log stream resume (Node client, real server)', header, await benchLogResume(t));
  } finally {
    await browser.close();
    await t.close();
  }
}
