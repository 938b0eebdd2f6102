import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { axeViolations, launchBrowser, openPage, screenshot, signIn } from '../helpers/browser.js';
import { ADMIN_TOKEN, registerRepo, startTestServer, type TestServer } from '../helpers/server.js';
import { tempDir, tempRepo } from '../helpers/repo.js';

function config(gate: string): string {
  return `workflows:
  logs:
    tasks:
      - name: build
        cubes:
          - name: live
            script:
              - 'for i in $(seq 1 300); do echo "step $i"; done'
              - 'echo "::group::Install"; echo "inside 1"; echo "inside 2"; echo "::endgroup::"'
              - "printf '\\\\033[31mred error\\\\033[0m\\\\n'"
              - 'while [ ! -f ${gate}/a ]; do sleep 0.05; done'
              - 'for i in $(seq 1000 1049); do echo "step $i"; done'
              - 'while [ ! -f ${gate}/b ]; do sleep 0.05; done'
              - 'mkdir -p out && echo report-data > out/report.txt'
            artifacts: {paths: [out/]}
`;
}

describe('web UI: the cube page (live log, search, line links, groups, follow, downloads)', () => {
  let t: TestServer;
  let browser: Browser;
  const gate = tempDir('conveyor-ui-gate-');

  before(async () => {
    t = await startTestServer();
    await registerRepo(t, tempRepo({ '.conveyor/ci.yaml': config(gate) }));
    browser = await launchBrowser();
  });
  after(async () => {
    writeFileSync(join(gate, 'a'), '');
    writeFileSync(join(gate, 'b'), '');
    await browser?.close();
    await t?.close();
  });

  it('streams lines live, counts search matches exactly with live lines, links lines, folds groups, follows, downloads', async () => {
    const started = await t.api<{ slug: string }>('POST', '/repos/acme/app/cicd/runs', {
      workflows: [{ name: 'logs' }],
    });
    assert.equal(started.status, 200, JSON.stringify(started.body));
    const { context, page, problems } = await openPage(browser, { theme: 'dark' });
    await signIn(page, t.url, ADMIN_TOKEN);

    // Keyboard only: from the run page to the cube's log.
    await page.goto(`${t.url}/ui/acme/app/runs/1`);
    await page.getByRole('link', { name: /^live running/ }).waitFor();
    let focused = '';
    for (let i = 0; i < 40 && !focused.startsWith('live'); i++) {
      await page.keyboard.press('Tab');
      focused = String(await page.evaluate('document.activeElement?.textContent ?? ""'));
    }
    assert.match(focused, /^live/);
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/runs\/1\/logs\/build\/live$/);

    const log = page.getByRole('log');
    // Following the tail: the last line is on screen as soon as its newline is written.
    await page.locator('.log-row', { hasText: 'red error' }).waitFor();
    assert.equal(await log.getAttribute('data-lines'), '305');
    assert.equal(await page.locator('.log-row .ansi-red-fg', { hasText: 'red error' }).count(), 1);

    await page.getByRole('searchbox', { name: 'Search the log' }).fill('step 1');
    await page.getByText('111 matches').waitFor(); // step 1, 10-19, 100-199

    // Scrolled up, follow stops; new lines are counted, and counted in the search.
    await log.evaluate((el: { scrollTop: number }) => (el.scrollTop = 0));
    await page.locator('.log-row[data-line="1"]').waitFor();
    writeFileSync(join(gate, 'a'), '');
    await page.getByRole('button', { name: '50 new lines ↓' }).waitFor();
    await page.getByText('161 matches').waitFor();
    assert.equal(await page.locator('.log-row[data-line="1"]').count(), 1, 'the view stayed where it was');
    await page.getByRole('button', { name: '50 new lines ↓' }).click();
    await page.locator('.log-row', { hasText: 'step 1049' }).waitFor();

    // Next match jumps, Enter goes on.
    await page.getByRole('button', { name: 'Next match' }).click();
    await page.getByText('1 of 161 matches').waitFor();
    await page.locator('.log-row.cur', { hasText: /^1step 1$/ }).waitFor();

    // Line links while the log still runs: a range, highlighted and scrolled to.
    await page.goto(`${page.url().split('#')[0] ?? ''}#L40-L42`);
    await page.locator('.log-row.sel[data-line="40"]').waitFor();
    assert.equal(await page.locator('.log-row.sel').count(), 3);
    await page.locator('.log-row[data-line="44"] a.ln').click();
    await page.waitForURL(/#L44$/);

    // Groups fold.
    await page.goto(`${page.url().split('#')[0] ?? ''}#L300`);
    const fold = page.getByRole('button', { name: /Install/ });
    await fold.click();
    assert.equal(await fold.getAttribute('aria-expanded'), 'false');
    assert.equal(await page.locator('.log-row', { hasText: 'inside 1' }).count(), 0);
    await page.getByRole('checkbox', { name: 'Timestamps' }).check();
    assert.match(
      (await page.locator('.log-row[data-line="300"] .ts').textContent()) ?? '',
      /^\d\d:\d\d:\d\d\.\d{3}$/,
    );
    assert.deepEqual(await axeViolations(page), []);
    await screenshot(page, 'cube-log-dark');
    await fold.click();
    await page.locator('.log-row', { hasText: 'inside 1' }).waitFor();

    writeFileSync(join(gate, 'b'), '');
    await page.locator('.badge', { hasText: 'passed' }).waitFor({ timeout: 30_000 });
    const artifacts = page.getByRole('region', { name: 'Artifacts' });
    await artifacts.getByText('out/').waitFor();
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      artifacts.getByRole('link', { name: 'Download' }).click(),
    ]);
    const saved = join(tempDir(), 'artifact');
    await download.saveAs(saved);
    assert.ok(readFileSync(saved).length > 0);
    const [raw] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: 'Download raw' }).click(),
    ]);
    const rawPath = join(tempDir(), 'raw.log');
    await raw.saveAs(rawPath);
    const text = readFileSync(rawPath, 'utf8');
    assert.match(text, /^step 1\nstep 2\n/);
    assert.match(text, /step 1049\n/);
    assert.equal(raw.suggestedFilename(), '1-logs-build-live.log');
    assert.deepEqual(problems, []);
    await context.close();
  });
});
