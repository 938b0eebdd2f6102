import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { axeViolations, launchBrowser, openPage, screenshot, signIn } from '../helpers/browser.js';
import { ADMIN_TOKEN, registerRepo, startTestServer, type TestServer } from '../helpers/server.js';
import { tempRepo } from '../helpers/repo.js';

const CONFIG = `workflows:
  build:
    inputs:
      WHO: {default: world}
    tasks:
      - name: compile
        cubes:
          - name: make
            script: ['echo "hello \${{ inputs.WHO }}"', 'mkdir -p out', 'echo built > out/app.txt']
            artifacts: {paths: [out/]}
          - name: lint
            needs: [make]
            script: ['echo lint ok']
      - name: test
        needs: [compile]
        cubes:
          - name: unit
            script: ['echo "unit for \${{ inputs.WHO }}"', 'test "\${{ inputs.WHO }}" != broken']
  slow:
    tasks:
      - name: wait
        cubes:
          - name: forever
            script: ['while true; do sleep 0.05; done']
`;

describe('web UI: sign-in, runs list, new run with inputs, run page, restart failed', () => {
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

  it('serves the UI: / redirects, hashed assets compressed and cached, index with a CSP', async () => {
    const root = await fetch(`${t.url}/`, { redirect: 'manual' });
    assert.equal(root.status, 302);
    assert.equal(root.headers.get('location'), '/ui/');
    const index = await fetch(`${t.url}/ui/acme/app/runs/1`, { headers: { 'accept-encoding': 'gzip' } });
    assert.equal(index.status, 200);
    assert.equal(index.headers.get('content-encoding'), 'gzip');
    assert.equal(index.headers.get('cache-control'), 'no-cache');
    const csp = index.headers.get('content-security-policy') ?? '';
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.doesNotMatch(csp, /unsafe-inline/);
    const html = await index.text();
    const script = /src="(\/ui\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    assert.ok(script, html);
    assert.doesNotMatch(html.replace(/<script[^>]*src=[^>]*><\/script>/g, ''), /<script/);
    const asset = await fetch(`${t.url}${script}`, { headers: { 'accept-encoding': 'br, gzip' } });
    assert.equal(asset.headers.get('content-encoding'), 'br');
    assert.equal(asset.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    assert.match(asset.headers.get('content-type') ?? '', /javascript/);
    const missing = await fetch(`${t.url}/ui/assets/nope.js`);
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as { error_code: string }).error_code, 'NotFound');
  });

  it('exchanges a token for an HttpOnly SameSite=Strict cookie; cookie writes need the CSRF header; sign-out ends the session', async () => {
    const bad = await t.api('POST', '/session', { token: 'not-a-token' }, null);
    assert.equal(bad.status, 401);
    const signed = await fetch(`${t.url}/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: ADMIN_TOKEN }),
    });
    assert.equal(signed.status, 200);
    const setCookie = signed.headers.get('set-cookie') ?? '';
    assert.match(setCookie, /^conveyor_session=[A-Za-z0-9_-]{40,};/);
    assert.match(setCookie, /HttpOnly/);
    assert.match(setCookie, /SameSite=Strict/);
    assert.doesNotMatch(setCookie, /Secure/); // plain http on loopback
    const { csrf_token: csrf } = (await signed.json()) as { csrf_token: string };
    const cookie = setCookie.split(';')[0] ?? '';
    const asCookie = (method: string, path: string, headers: Record<string, string> = {}) =>
      fetch(`${t.url}${path}`, {
        method,
        headers: { cookie, 'content-type': 'application/json', ...headers },
        body: method === 'GET' ? null : '{}',
      });
    assert.equal((await asCookie('GET', '/user')).status, 200);
    const noCsrf = await asCookie('POST', '/orgs');
    assert.equal(noCsrf.status, 403);
    assert.match(((await noCsrf.json()) as { message: string }).message, /x-conveyor-csrf/);
    const wrong = await asCookie('POST', '/orgs', { 'x-conveyor-csrf': 'x'.repeat(43) });
    assert.equal(wrong.status, 403);
    const withCsrf = await asCookie('POST', '/orgs', { 'x-conveyor-csrf': csrf });
    assert.equal(withCsrf.status, 400); // past authentication: the empty body is what is wrong
    assert.equal((await asCookie('DELETE', '/session', { 'x-conveyor-csrf': csrf })).status, 204);
    assert.equal((await asCookie('GET', '/session')).status, 401);
    assert.equal((await asCookie('GET', '/user')).status, 401);
  });

  it('signs in, starts a run with inputs, shows the failed cube, restarts failed; axe finds nothing serious', async () => {
    const { context, page, problems } = await openPage(browser);
    await signIn(page, t.url, ADMIN_TOKEN);
    const cookies = await context.cookies();
    const session = cookies.find((c) => c.name === 'conveyor_session');
    assert.equal(session?.httpOnly, true);
    assert.equal(session?.sameSite, 'Strict');
    assert.deepEqual(await axeViolations(page), []);
    await screenshot(page, 'repositories');

    await page.getByRole('link', { name: 'acme/app' }).click();
    await page.getByRole('heading', { name: 'Runs' }).waitFor();
    await page.getByText('No runs yet.').waitFor();
    await page.getByRole('button', { name: 'New run' }).click();
    const dialog = page.getByRole('dialog', { name: 'New run' });
    await dialog.getByLabel('WHO').fill('broken');
    await dialog.getByRole('button', { name: 'Start run' }).click();
    await page.waitForURL(/\/ui\/acme\/app\/runs\/1$/);
    await page.getByRole('heading', { name: /Run #1/ }).waitFor();
    // Live: the cube turns failed on the open page, with no reload.
    await page.getByRole('link', { name: /^unit failed/ }).waitFor({ timeout: 30_000 });
    await page.getByRole('link', { name: /^make passed/ }).waitFor();
    await page.getByText('Failed cubes').waitFor();
    assert.deepEqual(await axeViolations(page), []);
    await screenshot(page, 'run-failed');

    // Hover highlights upstream and downstream: the other workflow's nodes are not dimmed, unrelated rows are.
    await page.getByRole('link', { name: /^lint / }).hover();
    assert.equal(await page.locator('a.cube.dim').count(), 0); // make and lint are related; unit is downstream via the task
    await page.getByRole('checkbox', { name: 'Failed only' }).check();
    await page.getByRole('link', { name: /^make / }).waitFor({ state: 'detached' });
    assert.equal(await page.getByRole('link', { name: /^unit / }).count(), 1);
    await page.getByRole('checkbox', { name: 'Failed only' }).uncheck();

    await page.getByRole('button', { name: 'Restart failed' }).click();
    await page.waitForURL(/\/ui\/acme\/app\/runs\/2$/);
    await page.getByRole('link', { name: /^unit failed/ }).waitFor({ timeout: 30_000 });
    const restarted = await t.api<{ event_type: string }>('GET', '/repos/acme/app/cicd/runs/2');
    assert.equal(restarted.body.event_type, 'restart');

    // The list shows both runs; the status filter goes to the URL and the server filters.
    await page.getByRole('link', { name: 'Runs', exact: true }).click();
    await page.getByRole('link', { name: '#2' }).waitFor();
    await page.getByLabel('Status').selectOption('success');
    await page.waitForURL(/status=success/);
    await page.getByText('No runs match these filters.').waitFor();
    await page.getByLabel('Status').selectOption('failed');
    await page.getByRole('link', { name: '#1' }).waitFor();
    await screenshot(page, 'runs-list');
    assert.deepEqual(problems, []);
    await context.close();
  });

  it('collapses a task and cancels a running run with a comment', async () => {
    const { context, page, problems } = await openPage(browser);
    await signIn(page, t.url, ADMIN_TOKEN);
    const started = await t.api<{ slug: string }>('POST', '/repos/acme/app/cicd/runs', {
      workflows: [{ name: 'slow' }],
    });
    await page.goto(`${t.url}/ui/acme/app/runs/${started.body.slug}`);
    await page.getByRole('link', { name: /^forever running/ }).waitFor({ timeout: 30_000 });
    const head = page.getByRole('button', { name: /^wait/ });
    await head.press('Enter');
    assert.equal(await head.getAttribute('aria-expanded'), 'false');
    assert.equal(await page.getByRole('link', { name: /^forever/ }).count(), 0);
    await head.press('Enter');
    await page.getByRole('link', { name: /^forever/ }).waitFor();
    await page.getByRole('button', { name: 'Cancel…' }).click();
    await page.getByRole('dialog').getByLabel('Comment').fill('wrong branch');
    await page.getByRole('dialog').getByRole('button', { name: 'Cancel run' }).click();
    await page.locator('h1 .badge', { hasText: 'canceled' }).waitFor({ timeout: 30_000 });
    await page
      .getByText(/canceled by admin: wrong branch/)
      .first()
      .waitFor();
    assert.deepEqual(problems, []);
    await context.close();
  });

  it('is readable at phone width in the dark theme: the failed cube is one tap from the run URL', async () => {
    const { context, page, problems } = await openPage(browser, { width: 360, height: 740, theme: 'dark' });
    await signIn(page, t.url, ADMIN_TOKEN);
    await page.goto(`${t.url}/ui/acme/app/runs/1`);
    const failed = page.getByRole('region', { name: 'Failed cubes' }).getByRole('link').first();
    await failed.waitFor();
    assert.ok(await failed.isVisible());
    const width = await page.evaluate('document.documentElement.scrollWidth');
    assert.ok(Number(width) <= 360, `page is ${String(width)} px wide at 360`);
    assert.deepEqual(await axeViolations(page), []);
    await screenshot(page, 'run-phone-dark');
    await failed.click();
    await page.waitForURL(/\/runs\/1\/build\/test\/unit$/);
    // Tap two: the failed cube's reason and its log.
    await page.getByText('script exited with code 1').first().waitFor();
    await page.locator('.log-row', { hasText: 'unit for broken' }).waitFor();
    await screenshot(page, 'cube-failed-phone-dark');
    assert.deepEqual(problems, []);
    await context.close();
  });
});
