import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tempDir, tempRepo } from '../helpers/repo.js';
import { registerRepo, startTestServer, type TestServer } from '../helpers/server.js';

const CONFIG = `on:
  push:
    - workflows: [w]
      filter: {branches: [main]}
workflows:
  w:
    tasks: [{name: t, cubes: [{name: c, script: [echo hi]}]}]
`;

/** The probe's D8 (option injection into git diff), D12 (replays) and D13 (500s), from signed bodies. */
describe('webhooks: signed bodies that must not start, break or write anything', () => {
  let t: TestServer;
  let secret = '';
  let head = '';

  const deliver = async (body: string, headers: Record<string, string> = {}) => {
    const response = await fetch(`${t.url}/repos/acme/app/cicd/webhooks/github`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-github-event': 'push',
        'x-hub-signature-256': `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`,
        ...headers,
      },
      body,
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  before(async () => {
    t = await startTestServer();
    const repo = tempRepo({ '.conveyor/ci.yaml': CONFIG });
    head = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: repo, encoding: 'utf8' }).trim();
    secret = (await registerRepo(t, repo)).webhook_secret;
  });
  after(async () => t.close());

  it('refuses an option in before/after: git never sees it, no file is written (D8)', async () => {
    const target = join(tempDir(), 'pwned-by-webhook');
    const got = await deliver(
      JSON.stringify({ ref: 'refs/heads/main', before: `--output=${target}`, after: head }),
    );
    assert.equal(got.status, 400, JSON.stringify(got.body));
    assert.equal(got.body.error_code, 'ValidationError');
    assert.equal(existsSync(target), false);
  });

  it('answers every odd body with a 4xx in the catalogue shape (D13)', async () => {
    const bodies = [
      'null',
      '[]',
      '"x"',
      JSON.stringify({ ref: 'refs/heads/main', before: '0'.repeat(40), after: 'deadbeef'.repeat(5) }),
      JSON.stringify({ ref: 'refs/heads/main', before: '0'.repeat(40), after: 'HEAD' }),
      JSON.stringify({ ref: 'refs/heads/main', before: '0'.repeat(40), after: `${head}\n` }),
    ];
    for (const body of bodies) {
      const got = await deliver(body);
      assert.ok(got.status >= 400 && got.status < 500, `${body}: ${got.status} ${JSON.stringify(got.body)}`);
      assert.deepEqual(
        Object.keys(got.body).sort(),
        ['details', 'error_code', 'message', 'request_id'],
        body,
      );
    }
    const pr = JSON.stringify({
      action: 'opened',
      number: 3,
      pull_request: { number: 3, head: { ref: 'f', sha: 'x' }, base: { ref: 'main' } },
    });
    const got = await deliver(pr, { 'x-github-event': 'pull_request' });
    assert.equal(got.status, 400, JSON.stringify(got.body));
  });

  it('starts one run for a delivery sent three times, under any delivery id (D12)', async () => {
    const body = JSON.stringify({ ref: 'refs/heads/main', before: '0'.repeat(40), after: head });
    const answers = [];
    for (const id of ['d-1', 'd-1', 'd-2']) answers.push(await deliver(body, { 'x-github-delivery': id }));
    assert.deepEqual(
      answers.map((a) => [a.status, a.body.accepted]),
      [
        [202, true],
        [202, false],
        [202, false],
      ],
    );
    assert.ok(answers[0]?.body.run_slug);
    assert.match(String(answers[1]?.body.reason), /received before/);
  });

  it("the deprecated trigger checks its body: a 400 for each of the probe's bodies (D14)", async () => {
    for (const body of ['{"input":{"values":"x"}}', '{"revision":5}', '{"input":{"values":[null]}}', '"x"']) {
      const got = await t.api<Record<string, unknown>>('POST', '/acme/app/ci_workflows/w/trigger', body);
      assert.equal(got.status, 400, `${body}: ${JSON.stringify(got.body)}`);
      assert.equal(got.body.error_code, 'ValidationError');
    }
    const ok = await t.api('POST', '/acme/app/ci_workflows/w/trigger', {});
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
  });
});
