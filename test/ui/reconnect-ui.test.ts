import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { launchBrowser, openPage, signIn } from '../helpers/browser.js';
import { ADMIN_TOKEN, registerRepo, startTestServer, type TestServer } from '../helpers/server.js';
import { tempRepo } from '../helpers/repo.js';

const CONFIG = `workflows:
  quick:
    tasks: [{name: t, cubes: [{name: c, script: ['echo quick']}]}]
`;

describe('web UI: a server restart', () => {
  let t: TestServer;
  let browser: Browser;

  before(async () => {
    t = await startTestServer();
    await registerRepo(t, tempRepo({ '.conveyor/ci.yaml': CONFIG }));
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await t?.close();
  });

  it('open pages reconnect and catch up, with no reload', async () => {
    const { context, page } = await openPage(browser);
    await signIn(page, t.url, ADMIN_TOKEN);
    await page.goto(`${t.url}/ui/acme/app/runs`);
    await page.getByText('No runs yet.').waitFor();
    const port = Number(new URL(t.url).port);
    await t.close();
    t = await startTestServer({ dataDir: t.dataDir, port });
    // This process's HTTP pool may still hold a socket to the old server: the first request finds it dead.
    await fetch(`${t.url}/healthz`).catch(() => undefined);
    const started = await t.api<{ slug: string }>('POST', '/repos/acme/app/cicd/runs', {
      workflows: [{ name: 'quick' }],
    });
    assert.equal(started.status, 200, JSON.stringify(started.body));
    // The runs list learns of the run from its reconnected stream; the session survived the restart.
    await page.getByRole('link', { name: '#1' }).waitFor({ timeout: 20_000 });
    await page.getByRole('row', { name: /#1.*passed/ }).waitFor({ timeout: 20_000 });
    await context.close();
  });
});
