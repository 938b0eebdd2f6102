import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../helpers/cli.js';
import { ADMIN_TOKEN, startTestServer, type TestServer } from '../helpers/server.js';

interface TokenAnswer {
  id: string;
  note: string;
  token?: string;
  created_at: string;
  revoked_at?: string;
}

describe('worker tokens and GET /workers', () => {
  let t: TestServer;
  let userToken = '';
  before(async () => {
    t = await startTestServer();
    await t.api('POST', '/users', { slug: 'dev', email: 'dev@example.com' });
    const created = await t.api<{ token: string }>('POST', '/users/dev/tokens', {});
    userToken = created.body.token;
  });
  after(async () => t.close());

  it('lets only administrators create, list and revoke worker tokens', async () => {
    for (const [token, status] of [
      [null, 401],
      [userToken, 403],
    ] as const) {
      assert.equal((await t.api('POST', '/workers/tokens', {}, token)).status, status);
      assert.equal((await t.api('GET', '/workers/tokens', undefined, token)).status, status);
      assert.equal((await t.api('GET', '/workers', undefined, token)).status, status);
      assert.equal((await t.api('DELETE', '/workers/tokens/x', undefined, token)).status, status);
    }
  });

  it('answers the token once, stores only its hash, and revokes it', async () => {
    const created = await t.api<TokenAnswer>('POST', '/workers/tokens', { note: 'build host 2' });
    assert.equal(created.status, 201);
    const token = created.body.token ?? '';
    assert.match(token, /^cvw_\S{20,}$/);
    const listed = await t.api<{ tokens: TokenAnswer[] }>('GET', '/workers/tokens');
    const mine = listed.body.tokens.find((x) => x.id === created.body.id);
    assert.deepEqual(Object.keys(mine ?? {}).sort(), ['created_at', 'id', 'note']);
    assert.equal(mine?.note, 'build host 2');
    assert.ok(!readFileSync(join(t.dataDir, 'conveyor.db')).includes(token), 'the token is stored hashed');

    assert.equal((await t.api('DELETE', `/workers/tokens/${created.body.id}`)).status, 204);
    const again = await t.api<{ error_code: string }>('DELETE', `/workers/tokens/${created.body.id}`);
    assert.equal(again.status, 404);
    assert.equal(again.body.error_code, 'NotFound');
    const after = await t.api<{ tokens: TokenAnswer[] }>('GET', '/workers/tokens');
    assert.ok(after.body.tokens.find((x) => x.id === created.body.id)?.revoked_at);
  });

  it('opens nothing but the worker protocol with a worker token', async () => {
    const created = await t.api<TokenAnswer>('POST', '/workers/tokens', {});
    const token = created.body.token ?? '';
    for (const [method, path] of [
      ['GET', '/user'],
      ['GET', '/workers'],
      ['GET', '/workers/tokens'],
      ['POST', '/orgs'],
    ] as const) {
      const got = await t.api<{ error_code: string }>(
        method,
        path,
        method === 'POST' ? {} : undefined,
        token,
      );
      assert.equal(got.status, 401, `${method} ${path}`);
      assert.equal(got.body.error_code, 'Unauthenticated');
    }
  });

  it('answers GET /workers with a workers list', async () => {
    const got = await t.api<{ workers: unknown[] }>('GET', '/workers');
    assert.equal(got.status, 200);
    assert.ok(Array.isArray(got.body.workers));
  });

  it('is driven by `conveyor workers tokens create|list|revoke` and `conveyor workers list`', async () => {
    const env = { CONVEYOR_SERVER: t.url, CONVEYOR_TOKEN: ADMIN_TOKEN, XDG_CONFIG_HOME: t.dataDir };
    const created = await runCli(['workers', 'tokens', 'create', '--note', 'cli host'], { env });
    assert.equal(created.code, 0, created.stderr);
    const token = /^\s+(cvw_\S+)$/m.exec(created.stdout)?.[1];
    assert.ok(token, created.stdout);
    assert.match(created.stdout, /conveyor worker --server http:\/\/127\.0\.0\.1:\d+ --token <token>/);

    const listed = await runCli(['workers', 'tokens', 'list', '--json'], { env });
    const tokens = (JSON.parse(listed.stdout) as { tokens: TokenAnswer[] }).tokens;
    const mine = tokens.find((x) => x.note === 'cli host');
    assert.ok(mine);
    assert.ok(!listed.stdout.includes(token), 'the list never shows a token value');

    const revoked = await runCli(['workers', 'tokens', 'revoke', mine.id], { env });
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.equal(revoked.stdout, `worker token ${mine.id} revoked\n`);
    const twice = await runCli(['workers', 'tokens', 'revoke', mine.id], { env });
    assert.equal(twice.code, 1);
    assert.match(twice.stderr, /not found or already revoked \(NotFound, HTTP 404/);

    const workers = await runCli(['workers', 'list', '--json'], { env });
    assert.equal(workers.code, 0, workers.stderr);
    assert.ok(Array.isArray((JSON.parse(workers.stdout) as { workers: unknown[] }).workers));
    const denied = await runCli(['workers', 'list'], { env: { ...env, CONVEYOR_TOKEN: token } });
    assert.equal(denied.code, 3, 'a refused token is "not signed in" (docs/cli.md, exit codes)');
    assert.match(denied.stderr, /worker token|unknown, revoked or expired/);
  });
});
