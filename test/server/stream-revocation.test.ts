import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { tempRepo } from '../helpers/repo.js';
import { registerRepo, startTestServer, type TestServer } from '../helpers/server.js';

const CONFIG = `workflows:
  chatty:
    tasks: [{name: t, cubes: [{name: a, script: ["for i in $(seq 1 120); do echo line $i; sleep 0.25; done"]}]}]
`;

/** The probe's D16: an open stream kept sending after its token was revoked. */
describe('streams end once their token is revoked', () => {
  let t: TestServer;
  let token = '';
  let tokenId = '';

  before(async () => {
    t = await startTestServer();
    await registerRepo(t, tempRepo({ '.conveyor/ci.yaml': CONFIG }));
    assert.equal((await t.api('POST', '/users', { slug: 'dev', email: 'dev@example.com' })).status, 201);
    const made = await t.api<{ id: string; token: string }>('POST', '/users/dev/tokens', {});
    [token, tokenId] = [made.body.token, made.body.id];
    const roles = await t.api('POST', '/repos/acme/app/roles', {
      subject_roles: [{ role: 'developer', subject: { type: 'user', id: 'dev' } }],
    });
    assert.equal(roles.status, 200, JSON.stringify(roles.body));
  });
  after(async () => t.close());

  it('a log stream sends an error event and ends while the cube still runs', async () => {
    const run = await t.api<{ slug: string }>('POST', '/repos/acme/app/cicd/runs', {
      workflows: [{ name: 'chatty' }],
    });
    const response = await fetch(`${t.url}/repos/acme/app/cicd/logs/${run.body.slug}/chatty/t/a/stream`, {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(response.status, 200);
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    let text = '';
    let revoked = false;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += Buffer.from(value).toString();
      if (!revoked && (text.match(/event: line/g) ?? []).length >= 4) {
        revoked = true;
        assert.equal((await t.api('DELETE', `/users/dev/tokens/${tokenId}`)).status, 204);
      }
    }
    assert.ok(revoked, 'lines came before the revocation');
    assert.match(text, /event: error\ndata: \{"error_code":"Unauthenticated"/);
    assert.doesNotMatch(text, /event: done/, 'ended before the cube did');
    const status = await t.api<{ status: string }>('GET', `/repos/acme/app/cicd/runs/${run.body.slug}`);
    assert.equal(
      status.body.status,
      'processing',
      'the run still runs: the stream ended because of the token',
    );
    await t.api('POST', `/repos/acme/app/cicd/runs/${run.body.slug}/cancel`, {});
  });
});
