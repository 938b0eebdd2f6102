import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '../helpers/cli.js';
import { tempRepo } from '../helpers/repo.js';
import { ADMIN_TOKEN, registerRepo, startTestServer, type TestServer } from '../helpers/server.js';

type Who = 'anonymous' | 'other' | 'viewer' | 'developer' | 'admin';
const WHO: Who[] = ['anonymous', 'other', 'viewer', 'developer', 'admin'];

const CONFIG = `workflows:
  build:
    tasks: [{name: t, cubes: [{name: c, script: ["mkdir -p out && echo x > out/f"], artifacts: {paths: [out/]}}]}]
`;

const P = '/repos/acme/app';
/** Every route, what each caller gets, in order (the admin goes last, so writes before it do not disturb). */
const MATRIX: [string, string, unknown, Record<Who, number>][] = [
  ['GET', P, undefined, { anonymous: 404, other: 404, viewer: 200, developer: 200, admin: 200 }],
  [
    'GET',
    `${P}/cicd/runs`,
    undefined,
    { anonymous: 404, other: 404, viewer: 200, developer: 200, admin: 200 },
  ],
  [
    'GET',
    '/acme/app/cicd/runs',
    undefined,
    { anonymous: 404, other: 404, viewer: 200, developer: 200, admin: 200 },
  ],
  [
    'GET',
    `${P}/cicd/runs/1`,
    undefined,
    { anonymous: 404, other: 404, viewer: 200, developer: 200, admin: 200 },
  ],
  [
    'GET',
    `${P}/cicd/runs/1/build`,
    undefined,
    { anonymous: 404, other: 404, viewer: 200, developer: 200, admin: 200 },
  ],
  [
    'GET',
    `${P}/cicd/runs/1/events`,
    undefined,
    { anonymous: 404, other: 404, viewer: 200, developer: 200, admin: 200 },
  ],
  [
    'GET',
    `${P}/cicd/logs/1/build/t/c`,
    undefined,
    { anonymous: 404, other: 404, viewer: 200, developer: 200, admin: 200 },
  ],
  [
    'GET',
    `${P}/cicd/logs/1/build/t/c/stream`,
    undefined,
    { anonymous: 404, other: 404, viewer: 200, developer: 200, admin: 200 },
  ],
  [
    'GET',
    `${P}/cicd/artifacts/1/build/t/c`,
    undefined,
    { anonymous: 404, other: 404, viewer: 200, developer: 200, admin: 200 },
  ],
  [
    'POST',
    `${P}/cicd/runs`,
    { workflows: [{ name: 'build' }] },
    { anonymous: 404, other: 404, viewer: 403, developer: 200, admin: 200 },
  ],
  [
    'POST',
    `${P}/cicd/runs/1/cancel`,
    {},
    { anonymous: 404, other: 404, viewer: 403, developer: 409, admin: 409 },
  ],
  [
    'POST',
    `${P}/cicd/runs/1/restart`,
    {},
    { anonymous: 404, other: 404, viewer: 403, developer: 200, admin: 200 },
  ],
  [
    'POST',
    '/acme/app/ci_workflows/build/trigger',
    {},
    { anonymous: 404, other: 404, viewer: 403, developer: 200, admin: 200 },
  ],
  [
    'GET',
    `${P}/cicd/secrets`,
    undefined,
    { anonymous: 404, other: 404, viewer: 403, developer: 403, admin: 200 },
  ],
  [
    'PUT',
    `${P}/cicd/secrets/X`,
    { value: 'v' },
    { anonymous: 404, other: 404, viewer: 403, developer: 403, admin: 204 },
  ],
  [
    'DELETE',
    `${P}/cicd/secrets/X`,
    undefined,
    { anonymous: 404, other: 404, viewer: 403, developer: 403, admin: 204 },
  ],
  [
    'PUT',
    `${P}/cicd/service-connections/sc`,
    { audience: 'https://cloud.example' },
    { anonymous: 404, other: 404, viewer: 403, developer: 403, admin: 200 },
  ],
  [
    'GET',
    `${P}/cicd/service-connections`,
    undefined,
    { anonymous: 404, other: 404, viewer: 403, developer: 403, admin: 200 },
  ],
  [
    'GET',
    `${P}/cicd/service-connections/sc`,
    undefined,
    { anonymous: 404, other: 404, viewer: 403, developer: 403, admin: 200 },
  ],
  [
    'DELETE',
    `${P}/cicd/service-connections/sc`,
    undefined,
    { anonymous: 404, other: 404, viewer: 403, developer: 403, admin: 204 },
  ],
  [
    'PUT',
    '/orgs/acme/cicd/service-connections/sc',
    { audience: 'https://cloud.example' },
    { anonymous: 401, other: 403, viewer: 403, developer: 403, admin: 403 },
  ],
  [
    'GET',
    '/.well-known/openid-configuration',
    undefined,
    { anonymous: 200, other: 200, viewer: 200, developer: 200, admin: 200 },
  ],
  [
    'GET',
    '/.well-known/jwks',
    undefined,
    { anonymous: 200, other: 200, viewer: 200, developer: 200, admin: 200 },
  ],
  ['GET', `${P}/roles`, undefined, { anonymous: 404, other: 404, viewer: 403, developer: 403, admin: 200 }],
  [
    'POST',
    `${P}/roles`,
    { subject_roles: [] },
    { anonymous: 404, other: 404, viewer: 403, developer: 403, admin: 200 },
  ],
  [
    'POST',
    `${P}/roles/remove`,
    { subject_roles: [] },
    { anonymous: 404, other: 404, viewer: 403, developer: 403, admin: 200 },
  ],
  [
    'GET',
    `${P}/cicd/webhook`,
    undefined,
    { anonymous: 404, other: 404, viewer: 403, developer: 403, admin: 200 },
  ],
  [
    'GET',
    '/orgs/acme/repos',
    undefined,
    { anonymous: 404, other: 200, viewer: 200, developer: 200, admin: 200 },
  ],
  [
    'POST',
    '/orgs/acme/repos',
    { name: 'x', slug: 'x', clone_url: '/nonexistent' },
    { anonymous: 401, other: 403, viewer: 403, developer: 403, admin: 403 },
  ],
  [
    'PUT',
    '/orgs/acme/cicd/secrets/X',
    { value: 'v' },
    { anonymous: 401, other: 403, viewer: 403, developer: 403, admin: 403 },
  ],
  [
    'POST',
    '/orgs',
    { slug: 'mine', name: 'Mine' },
    // Creating organizations is for server administrators (docs/security.md S6).
    { anonymous: 401, other: 403, viewer: 403, developer: 403, admin: 403 },
  ],
  [
    'POST',
    '/users',
    { slug: 'eve', email: 'eve@example.com' },
    { anonymous: 401, other: 403, viewer: 403, developer: 403, admin: 403 },
  ],
  [
    'GET',
    '/users/viewer',
    undefined,
    { anonymous: 401, other: 404, viewer: 200, developer: 404, admin: 404 },
  ],
  [
    'POST',
    '/users/viewer/tokens',
    {},
    { anonymous: 401, other: 404, viewer: 201, developer: 404, admin: 404 },
  ],
  ['GET', '/user', undefined, { anonymous: 401, other: 200, viewer: 200, developer: 200, admin: 200 }],
];

describe('access: every route x every kind of caller', () => {
  let t: TestServer;
  const tokens: Partial<Record<Who, string>> = {};

  before(async () => {
    t = await startTestServer();
    await registerRepo(t, tempRepo({ '.conveyor/ci.yaml': CONFIG }));
    // The repository admin is a user with the admin role on the repository, not a server administrator.
    const slugs = { other: 'other', viewer: 'viewer', developer: 'developer', admin: 'repoadmin' } as const;
    for (const [who, slug] of Object.entries(slugs) as [Who, string][]) {
      assert.equal((await t.api('POST', '/users', { slug, email: `${slug}@example.com` })).status, 201);
      const token = await t.api<{ token: string }>('POST', `/users/${slug}/tokens`, { note: 'matrix' });
      tokens[who] = token.body.token;
    }
    const roles = await t.api('POST', `${P}/roles`, {
      subject_roles: (['viewer', 'developer', 'admin'] as const).map((role) => ({
        role,
        subject: { type: 'user', id: slugs[role] },
      })),
    });
    assert.equal(roles.status, 200);
    const run = await t.api<{ slug: string }>('POST', `${P}/cicd/runs`, { workflows: [{ name: 'build' }] });
    await waitFor(
      async () =>
        (await t.api<{ status: string }>('GET', `${P}/cicd/runs/${run.body.slug}`)).body.status ===
          'success' || undefined,
      'run 1',
    );
  });
  after(async () => t.close());

  for (const [method, path, body, expected] of MATRIX) {
    it(`${method} ${path}`, async () => {
      const got: Partial<Record<Who, number>> = {};
      for (const who of WHO) {
        const answer = await t.api(method, path, body, who === 'anonymous' ? null : (tokens[who] ?? null));
        got[who] = answer.status;
        if (answer.status >= 400) {
          assert.deepEqual(Object.keys(answer.body as object).sort(), [
            'details',
            'error_code',
            'message',
            'request_id',
          ]);
          assert.equal(
            answer.headers.get('x-request-id'),
            (answer.body as { request_id: string }).request_id,
          );
        }
      }
      assert.deepEqual(got, expected);
    });
  }

  it('refuses unknown, revoked and expired tokens with 401, even on public routes', async () => {
    assert.equal((await t.api('GET', '/orgs/acme/repos', undefined, 'cvy_not-a-token')).status, 401);
    const made = await t.api<{ id: string; token: string }>('POST', '/users/other/tokens', {});
    assert.equal((await t.api('GET', '/user', undefined, made.body.token)).status, 200);
    assert.equal((await t.api('DELETE', `/users/other/tokens/${made.body.id}`)).status, 204);
    assert.equal((await t.api('GET', '/user', undefined, made.body.token)).status, 401);
    const soon = await t.api<{ token: string }>('POST', '/users/other/tokens', {
      expires_at: new Date(Date.now() + 60_000).toISOString(),
    });
    t.clock.offsetMs += 120_000;
    try {
      assert.equal((await t.api('GET', '/user', undefined, soon.body.token)).status, 401);
    } finally {
      t.clock.offsetMs -= 120_000;
    }
    assert.equal((await t.api('GET', '/user', undefined, ADMIN_TOKEN)).status, 200);
  });

  it('never returns secret values or token hashes', async () => {
    await t.api('PUT', `${P}/cicd/secrets/HIDDEN`, { value: 'value-that-must-not-leak' });
    const listed = await t.api('GET', `${P}/cicd/secrets`);
    assert.doesNotMatch(JSON.stringify(listed.body), /value-that-must-not-leak/);
    const tokensList = await t.api<{ tokens: Record<string, unknown>[] }>('GET', '/users/admin/tokens');
    for (const token of tokensList.body.tokens)
      assert.deepEqual(
        Object.keys(token).filter((k) => /hash|token/.test(k)),
        [],
      );
  });

  it('lets anyone read a public repository but only members change it', async () => {
    // Without a public repository an anonymous caller cannot tell the organization from an unknown one (D19).
    const hidden = await t.api<{ error_code: string }>('GET', '/orgs/acme/repos', undefined, null);
    const unknown = await t.api<{ error_code: string }>('GET', '/orgs/no-such-org/repos', undefined, null);
    assert.equal(hidden.status, 404);
    assert.equal(unknown.status, 404);
    assert.equal(hidden.body.error_code, unknown.body.error_code);
    const created = await t.api('POST', '/orgs/acme/repos', {
      name: 'pub',
      slug: 'pub',
      visibility: 'public',
      clone_url: tempRepo({ '.conveyor/ci.yaml': CONFIG }),
      poll_interval_seconds: 0,
    });
    assert.equal(created.status, 201);
    assert.equal((await t.api('GET', '/repos/acme/pub/cicd/runs', undefined, null)).status, 200);
    const listed = await t.api<{ repositories: { slug: string }[] }>(
      'GET',
      '/orgs/acme/repos',
      undefined,
      null,
    );
    assert.deepEqual(
      listed.body.repositories.map((r) => r.slug),
      ['pub'],
    );
    assert.equal(
      (await t.api('POST', '/repos/acme/pub/cicd/runs', { workflows: [{ name: 'build' }] }, null)).status,
      401,
    );
    assert.equal(
      (await t.api('POST', '/repos/acme/pub/cicd/runs', { workflows: [{ name: 'build' }] }, tokens.other))
        .status,
      403,
    );
  });
});
