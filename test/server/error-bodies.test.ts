import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { tempRepo } from '../helpers/repo.js';
import { ADMIN_TOKEN, registerRepo, startTestServer, type TestServer } from '../helpers/server.js';

const ERROR_KEYS = ['details', 'error_code', 'message', 'request_id'];
const CONFIG = 'workflows:\n  w:\n    tasks: [{name: t, cubes: [{name: c, script: [echo hi]}]}]\n';

/** The probe's D18 and the fuzzing of every route of the OpenAPI document. */
describe('every answer uses the error catalogue', () => {
  let t: TestServer;

  before(async () => {
    t = await startTestServer();
    await registerRepo(t, tempRepo({ '.conveyor/ci.yaml': CONFIG }));
  });
  after(async () => t.close());

  const raw = async (method: string, path: string, headers: Record<string, string> = {}, body?: string) => {
    const response = await fetch(`${t.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...headers },
      ...(body !== undefined ? { body } : {}),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON: the assertions below say so
    }
    return { status: response.status, body: parsed as Record<string, unknown> };
  };

  it('framework errors: %FF in a path, a text/plain body, a forged page token (D18)', async () => {
    const bad = await raw('GET', '/repos/acme/%FF/cicd/runs');
    assert.equal(bad.status, 400);
    assert.deepEqual(Object.keys(bad.body).sort(), ERROR_KEYS);
    for (const path of ['/repos/acme/app/cicd/runs', '/repos/acme/app/cicd/webhooks/github']) {
      const plain = await raw('POST', path, { 'content-type': 'text/plain' }, '{"workflows":[]}');
      assert.equal(plain.status, 415, `${path}: ${JSON.stringify(plain.body)}`);
      assert.equal(plain.body.error_code, 'UnsupportedMediaType');
    }
    const forged = Buffer.from('runs:v1:0').toString('base64url');
    const page = await raw('GET', `/repos/acme/app/cicd/runs?page_token=${forged}`);
    assert.equal(page.status, 400, JSON.stringify(page.body));
    assert.deepEqual(Object.keys(page.body).sort(), ERROR_KEYS);
  });

  it('GetCubeLogs?page=0 is a 400 (D17)', async () => {
    const run = await t.api<{ slug: string }>('POST', '/repos/acme/app/cicd/runs', {
      workflows: [{ name: 'w' }],
    });
    const got = await t.api<Record<string, unknown>>(
      'GET',
      `/repos/acme/app/cicd/logs/${run.body.slug}/w/t/c?page=0`,
    );
    assert.equal(got.status, 400, JSON.stringify(got.body));
    assert.equal(got.body.error_code, 'ValidationError');
  });

  it('random JSON bodies and parameters for every route never give a 5xx, and errors have the body', async () => {
    const doc = (await t.api<{ paths: Record<string, Record<string, unknown>> }>('GET', '/openapi.json'))
      .body;
    const routes = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.keys(methods)
        .filter((m) => ['get', 'post', 'put', 'patch', 'delete'].includes(m))
        .map((method) => ({ path, method: method.toUpperCase() })),
    );
    // Streams stay open while their run lives: they are tested elsewhere.
    const plain = routes.filter((r) => !/\/(stream|events)$/.test(r.path));
    assert.ok(plain.length > 50, `the document lists the routes (${plain.length})`);
    const segment = fc.oneof(
      fc.constantFrom('acme', 'app', '1', '0', 'w', 't', 'c', '..', '%2e%2e', 'id:x', '-1', 'NaN'),
      fc.string({ maxLength: 12 }).map((s) => encodeURIComponent(s) || 'x'),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...plain),
        fc.array(segment, { minLength: 6, maxLength: 6 }),
        fc.jsonValue({ maxDepth: 3 }),
        fc.dictionary(
          fc.constantFrom('page', 'page_size', 'page_token', 'status', 'from', 'q'),
          fc.string({ maxLength: 8 }),
        ),
        async (route, values, body, query) => {
          let i = 0;
          const path = route.path.replace(/\{[^}]+\}/g, () => values[i++ % values.length] ?? 'x');
          const search = new URLSearchParams(query).toString();
          const sendsBody = route.method !== 'GET' && route.method !== 'DELETE';
          const got = await raw(
            route.method,
            `${path}${search ? `?${search}` : ''}`,
            sendsBody ? { 'content-type': 'application/json' } : {},
            sendsBody ? JSON.stringify(body) : undefined,
          );
          assert.ok(got.status < 500, `${route.method} ${path}: ${got.status} ${JSON.stringify(got.body)}`);
          if (got.status >= 400)
            assert.deepEqual(
              Object.keys(got.body).sort(),
              ERROR_KEYS,
              `${route.method} ${path}: ${JSON.stringify(got.body)}`,
            );
        },
      ),
      { numRuns: 400 },
    );
  });
});
