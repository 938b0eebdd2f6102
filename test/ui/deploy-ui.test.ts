import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { axeViolations, launchBrowser, openPage, screenshot, signIn } from '../helpers/browser.js';
import { registerRepo, startTestServer, type TestServer } from '../helpers/server.js';
import { tempRepo } from '../helpers/repo.js';

const CONFIG = `workflows:
  deploy:
    tasks:
      - name: ship
        cubes:
          - name: ship
            script: ['echo "deploying $RELEASE_NAME to $ENVIRONMENT_KEY"']
`;

describe('web UI: deployments (environments, pipeline, approve, reject, batch approval, releases)', () => {
  let t: TestServer;
  let browser: Browser;
  let project = '';
  let ritaToken = '';
  const envs: Record<string, string> = {};
  const api = <T>(method: string, path: string, body?: unknown) =>
    t.api<T>(method, `/api/projects/${project}${path}`, body);

  before(async () => {
    t = await startTestServer();
    project = (await registerRepo(t, tempRepo({ '.conveyor/ci.yaml': CONFIG }))).id;
    const rita = await t.api<{ id: string }>('POST', '/users', {
      slug: 'rita',
      email: 'rita@example.com',
      first_name: 'Rita',
    });
    ritaToken = (await t.api<{ token: string }>('POST', '/users/rita/tokens', {})).body.token;
    await t.api('POST', '/repos/acme/app/roles', {
      subject_roles: [{ role: 'developer', subject: { id: 'rita' } }],
    });
    for (const [key, order, review] of [
      ['dev', 1, false],
      ['staging', 2, true],
      ['prod', 3, true],
    ] as const) {
      const made = await api<{ id: string }>('POST', '/environments', {
        name: key[0]?.toUpperCase() + key.slice(1),
        key,
        addToWorkflow: true,
        workflowOrder: order,
        workflow: 'deploy',
        ...(review ? { requiredReviewers: true, reviewers: [{ id: rita.body.id }] } : {}),
      });
      assert.equal(made.status, 201, JSON.stringify(made.body));
      envs[key] = made.body.id;
    }
    for (const name of ['r1', 'r2']) {
      const rel = await api('POST', '/releases', { name, status: 'published' });
      assert.equal(rel.status, 201, JSON.stringify(rel.body));
    }
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await t?.close();
  });

  it('a reviewer approves the waiting stage and sees the next one start, rejects one with a comment, approves a batch', async () => {
    const { context, page, problems } = await openPage(browser);
    await signIn(page, t.url, ritaToken);
    await page.goto(`${t.url}/ui/acme/app/deployments`);
    await page.getByRole('heading', { name: 'Deployments' }).waitFor();

    // Started by the administrator (the author may not approve their own run).
    const releases = (await api<{ results: { id: string; name: string }[] }>('GET', '/releases')).body
      .results;
    const r1 = releases.find((r) => r.name === 'r1')?.id ?? '';
    const started = await api<{ id: string }>('POST', '/runs', { releaseId: r1, name: 'ship r1' });
    assert.equal(started.status, 200, JSON.stringify(started.body));

    // Live, no reload: dev deploys, staging waits for Rita.
    const waiting = page.getByRole('region', { name: 'Waiting for your review' });
    await waiting.getByText('Staging: r1').waitFor({ timeout: 30_000 });
    await page.getByRole('region', { name: 'Environments' }).getByText('r1 0.0.1').waitFor();
    await page
      .getByRole('region', { name: 'Deployment runs' })
      .getByRole('link', { name: 'ship r1' })
      .click();
    await page.getByRole('heading', { name: /ship r1/ }).waitFor();
    const stages = page.getByRole('list', { name: 'Environments of this run' });
    assert.deepEqual(await stages.locator('.stage .lane-head .strong').allTextContents(), [
      'Dev',
      'Staging',
      'Prod',
    ]);
    // Two interactions: Approve, then Approve in the dialog.
    await stages.locator('.stage', { hasText: 'Staging' }).getByRole('button', { name: 'Approve' }).click();
    await page.getByRole('dialog').getByLabel('Comment').fill('looks good');
    await page.getByRole('dialog').getByRole('button', { name: 'Approve' }).click();
    await stages
      .locator('.stage', { hasText: 'Staging' })
      .getByText('approved by Rita: “looks good”')
      .waitFor();
    await stages
      .locator('.stage', { hasText: 'Staging' })
      .locator('.badge', { hasText: 'completed' })
      .waitFor({ timeout: 30_000 });
    // The next stage starts: prod now waits for review.
    await stages.locator('.stage', { hasText: 'Prod' }).locator('.badge', { hasText: 'waiting' }).waitFor();
    assert.deepEqual(await axeViolations(page), []);
    await screenshot(page, 'deployment-run');

    await stages.locator('.stage', { hasText: 'Prod' }).getByRole('button', { name: 'Reject' }).click();
    await page
      .getByRole('dialog')
      .getByLabel(/Comment/)
      .fill('not on a Friday');
    await page.getByRole('dialog').getByRole('button', { name: 'Reject' }).click();
    await stages
      .locator('.stage', { hasText: 'Prod' })
      .getByText('rejected by Rita: “not on a Friday”')
      .waitFor();
    await page.locator('h1 .badge', { hasText: 'failure' }).waitFor();
    const run = await api<{ jobs: { status: string; reviewedComment: string | null }[] }>(
      'GET',
      `/runs/${started.body.id}`,
    );
    assert.equal(run.body.jobs[2]?.status, 'rejected');
    assert.equal(run.body.jobs[2]?.reviewedComment, 'not on a Friday');

    // Batch: two single-environment deployments wait at once; one dialog approves both.
    const r2 = releases.find((r) => r.name === 'r2')?.id ?? '';
    for (const env of ['staging', 'prod'])
      assert.equal(
        (await api('POST', '/releases/deploy', { releaseId: r2, environmentId: envs[env] })).status,
        200,
      );
    await page.getByRole('link', { name: 'Deployments', exact: true }).click();
    await waiting.getByText('Staging: r2').waitFor({ timeout: 30_000 });
    await waiting.getByText('Prod: r2').waitFor();
    await waiting.getByRole('checkbox').nth(0).check();
    await waiting.getByRole('checkbox').nth(1).check();
    await waiting.getByRole('button', { name: 'Approve selected (2)' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Approve' }).click();
    await waiting.waitFor({ state: 'detached', timeout: 30_000 });
    const lanes = page.getByRole('region', { name: 'Environments' });
    await lanes
      .locator('.lane', { hasText: 'Prod' })
      .locator('.lane-live', { hasText: 'r2' })
      .waitFor({ timeout: 30_000 });
    await lanes
      .locator('.lane', { hasText: 'Staging' })
      .locator('.lane-live', { hasText: 'r2' })
      .waitFor({ timeout: 30_000 });
    await page.getByRole('region', { name: 'Releases' }).getByText('live on Staging, Prod').waitFor();
    assert.deepEqual(await axeViolations(page), []);
    await screenshot(page, 'deployments');
    assert.deepEqual(problems, []);
    await context.close();
  });

  it('offers no review to someone who is not a reviewer', async () => {
    const { context, page } = await openPage(browser, { theme: 'dark' });
    const releases = (await api<{ results: { id: string; name: string }[] }>('GET', '/releases')).body
      .results;
    await api('POST', '/releases/deploy', { releaseId: releases[0]?.id, environmentId: envs.staging });
    await signIn(page, t.url, 'test-admin-token-0123456789');
    await page.goto(`${t.url}/ui/acme/app/deployments`);
    await page.getByRole('link', { name: /r[12]/ }).first().waitFor();
    await page
      .getByRole('region', { name: 'Environments' })
      .locator('.badge', { hasText: 'waiting' })
      .waitFor({ timeout: 30_000 });
    assert.equal(await page.getByRole('region', { name: 'Waiting for your review' }).count(), 0);
    assert.equal(await page.getByRole('button', { name: 'Approve' }).count(), 0);
    assert.deepEqual(await axeViolations(page), []);
    await screenshot(page, 'deployments-dark');
    await context.close();
  });
});
