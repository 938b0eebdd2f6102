import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose';
import { ActionHost } from '../helpers/actions.js';
import { GREET } from '../helpers/action-fixtures.js';
import { runCli, waitFor } from '../helpers/cli.js';
import { tempPostgresUrl } from '../helpers/postgres.js';
import { tempRepo } from '../helpers/repo.js';
import { ADMIN_TOKEN, registerRepo, startTestServer, type TestServer } from '../helpers/server.js';

const CONFIG = `env:
  AUD_NOTE: from-global
tokens:
  ORG_T: {service_connection: org-conn, scope: org}
  REPO_T: {service_connection: app-conn, scope: repo}
  REF_T: {service_connection: app-conn, scope: ref}
workflows:
  deploy:
    env:
      NOTE: \${{ env.AUD_NOTE }}-workflow
    tasks:
      - name: get-token
        cubes:
          - name: write
            env:
              ID_TOKEN: \${{ tokens.REPO_T.id_token }}
            script:
              - mkdir -p out
              - printf '%s' "$ID_TOKEN" > out/repo.jwt
              - printf '%s' "\${{ tokens.ORG_T.id_token }}" > out/org.jwt
              - printf '%s' "\${{ tokens.REF_T.id_token }}" > out/ref.jwt
              - echo "sa=\${{ tokens.REPO_T.service_account_id }} folder=\${{ tokens.REPO_T.folder_id }} note=$NOTE"
              - echo "token in log $ID_TOKEN"
            artifacts: {paths: [out/repo.jwt, out/org.jwt, out/ref.jwt]}
          - name: again
            script:
              - mkdir -p out && printf '%s' "\${{ tokens.REPO_T.id_token }}" > out/again.jwt
            artifacts: {paths: [out/again.jwt]}
      - name: other-task
        cubes:
          - name: write
            script:
              - mkdir -p out && printf '%s' "\${{ tokens.REPO_T.id_token }}" > out/other.jwt
            artifacts: {paths: [out/other.jwt]}
  greet:
    tasks:
      - name: js
        cubes:
          - name: greet
            action: acme/greet@v1
            with: {who: server}
          - name: after
            script: ['echo "\${{ cubes.greet.outputs.greeting }} / $FROM_ACTION"']
`;

const MISSING_CONFIG = `${CONFIG.replace(
  'tokens:\n',
  'tokens:\n  MISSING_T: {service_connection: nobody-set-this, scope: repo}\n',
)}  unknown:
    tasks:
      - name: t
        cubes:
          - name: c
            env: {T: "\${{ tokens.MISSING_T.id_token }}"}
            script: [echo]
`;

interface Cube {
  slug: string;
  status: string;
  outputs: Record<string, string>;
}
interface Run {
  slug: string;
  status: string;
  warnings?: string[];
  error_messages: string[];
  workflows: { tasks: { slug: string; cubes: Cube[] }[] }[];
}

const P = '/repos/acme/app';

async function runToEnd(t: TestServer, workflow: string, base = P): Promise<Run> {
  const started = await t.api<Run>('POST', `${base}/cicd/runs`, { workflows: [{ name: workflow }] });
  assert.equal(started.status, 200, JSON.stringify(started.body));
  return waitFor(
    async () => {
      const got = await t.api<Run>('GET', `${base}/cicd/runs/${started.body.slug}`);
      return ['success', 'failed', 'canceled', 'timeout'].includes(got.body.status) ? got.body : undefined;
    },
    `run of ${workflow}`,
    60_000,
  );
}

async function artifactText(t: TestServer, run: Run, path: string, file: string): Promise<string> {
  const listed = await t.api<{ artifacts: { local_path: string; download_url: string }[] }>(
    'GET',
    `${P}/cicd/artifacts/${run.slug}/deploy/${path}`,
  );
  const artifact = listed.body.artifacts.find((a) => a.local_path === `out/${file}`);
  assert.ok(artifact, JSON.stringify(listed.body));
  const answer = await fetch(artifact.download_url);
  assert.equal(answer.status, 200, await answer.clone().text());
  return answer.text();
}

async function logOf(t: TestServer, run: Run, path: string): Promise<string> {
  const got = await t.api<{ logs: string }>('GET', `${P}/cicd/logs/${run.slug}/${path}?page=1`);
  return got.body.logs;
}

describe('service connections and id tokens, action cubes, env and .src.ci.yaml on the server', () => {
  let t: TestServer;
  let jwks: ReturnType<typeof createRemoteJWKSet>;
  const host = new ActionHost();

  before(async () => {
    host.publish('acme/greet', GREET, ['v1']);
    t = await startTestServer({ env: { CONVEYOR_ACTIONS_URL: host.url } });
    await registerRepo(t, tempRepo({ '.sourcecraft/ci.yaml': CONFIG }));
    jwks = createRemoteJWKSet(new URL(`${t.url}/.well-known/jwks`));
  });
  after(async () => t.close());

  it('sets, reads, lists and deletes service connections of repositories and organizations', async () => {
    const put = await t.api('PUT', `${P}/cicd/service-connections/app-conn`, {
      audience: 'https://iam.cloud.example/app',
      service_account_id: 'sa-123',
      folder_id: 'folder-9',
    });
    assert.equal(put.status, 200);
    assert.deepEqual(
      { ...put.body, created_at: undefined, updated_at: undefined },
      {
        name: 'app-conn',
        scope: 'repo',
        audience: 'https://iam.cloud.example/app',
        service_account_id: 'sa-123',
        folder_id: 'folder-9',
        created_at: undefined,
        updated_at: undefined,
      },
    );
    const org = await t.api('PUT', '/orgs/acme/cicd/service-connections/org-conn', { audience: 'org-aud' });
    assert.equal(org.status, 200);
    const list = await t.api<{ service_connections: { name: string }[] }>(
      'GET',
      `${P}/cicd/service-connections`,
    );
    assert.deepEqual(
      list.body.service_connections.map((c) => c.name),
      ['app-conn'],
    );
    assert.equal((await t.api('GET', `${P}/cicd/service-connections/nope`)).status, 404);
    const bad = await t.api<{ error_code: string }>('PUT', `${P}/cicd/service-connections/x`, {
      aud: 'typo',
    });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error_code, 'ValidationError');
    assert.equal((await t.api('PUT', `${P}/cicd/service-connections/tmp`, { audience: 'a' })).status, 200);
    assert.equal((await t.api('DELETE', `${P}/cicd/service-connections/tmp`)).status, 204);
    assert.equal((await t.api('DELETE', `${P}/cicd/service-connections/tmp`)).status, 404);
  });

  it('serves an OpenID discovery document and its JWKS without authentication', async () => {
    const discovery = await t.api<{
      issuer: string;
      jwks_uri: string;
      id_token_signing_alg_values_supported: string[];
    }>('GET', '/.well-known/openid-configuration', undefined, null);
    assert.equal(discovery.status, 200);
    assert.equal(discovery.body.issuer, t.url);
    assert.equal(discovery.body.jwks_uri, `${t.url}/.well-known/jwks`);
    assert.deepEqual(discovery.body.id_token_signing_alg_values_supported, ['RS256']);
    const keys = await t.api<{ keys: { kid: string; kty: string; d?: string }[] }>(
      'GET',
      '/.well-known/jwks',
      undefined,
      null,
    );
    assert.equal(keys.body.keys.length, 1);
    assert.equal(keys.body.keys[0]?.kty, 'RSA');
    assert.equal(keys.body.keys[0]?.d, undefined, 'no private part');
  });

  it('mints a JWT per task that verifies against the JWKS, with the claims of the run; masked in the log', async () => {
    const run = await runToEnd(t, 'deploy');
    assert.equal(run.status, 'success', JSON.stringify(run, null, 2));
    const verify = async (token: string, audience: string): Promise<JWTPayload> =>
      (await jwtVerify(token, jwks, { issuer: t.url, audience, algorithms: ['RS256'] })).payload;
    const repoToken = await artifactText(t, run, 'get-token/write', 'repo.jwt');
    const claims = await verify(repoToken, 'https://iam.cloud.example/app');
    assert.equal(claims.sub, 'repo:acme/app');
    assert.equal(claims.repository, 'acme/app');
    assert.equal(claims.repository_owner, 'acme');
    assert.equal(claims.ref, 'refs/heads/main');
    assert.match(String(claims.sha), /^[0-9a-f]{40}$/);
    assert.equal(claims.run_id, run.slug);
    assert.equal(claims.workflow, 'deploy');
    assert.equal(claims.task, 'get-token');
    assert.equal(claims.event, 'manual');
    assert.equal(claims.actor, 'admin');
    assert.ok((claims.exp ?? 0) - (claims.iat ?? 0) <= 3600);
    assert.ok(decodeProtectedHeader(repoToken).kid);
    const orgClaims = await verify(await artifactText(t, run, 'get-token/write', 'org.jwt'), 'org-aud');
    assert.equal(orgClaims.sub, 'org:acme');
    const refClaims = await verify(
      await artifactText(t, run, 'get-token/write', 'ref.jwt'),
      'https://iam.cloud.example/app',
    );
    assert.equal(refClaims.sub, 'repo:acme/app:ref:refs/heads/main');
    await assert.rejects(verify(repoToken, 'another-audience'), /aud/);
    // One JWT per task: the task's second cube gets the same, another task a fresh one.
    assert.equal(await artifactText(t, run, 'get-token/again', 'again.jwt'), repoToken);
    const other = await artifactText(t, run, 'other-task/write', 'other.jwt');
    assert.notEqual(other, repoToken);
    assert.equal((await verify(other, 'https://iam.cloud.example/app')).task, 'other-task');
    const log = await logOf(t, run, 'deploy/get-token/write');
    assert.match(log, /sa=sa-123 folder=folder-9 note=from-global-workflow/);
    assert.match(log, /token in log \*\*\*/);
    assert.ok(!log.includes(repoToken.slice(0, 40)), 'the token is not in the log');
  });

  it('a config naming a connection nobody set fails before the run starts, saying which', async () => {
    const other = await registerRepo(t, tempRepo({ '.sourcecraft/ci.yaml': MISSING_CONFIG }), {
      slug: 'other',
    });
    assert.ok(other.id);
    const started = await t.api<{ error_code: string; message: string }>(
      'POST',
      '/repos/acme/other/cicd/runs',
      {
        workflows: [{ name: 'unknown' }],
      },
    );
    assert.equal(started.status, 400);
    assert.equal(started.body.error_code, 'ValidationError');
    assert.match(
      started.body.message,
      /token 'MISSING_T' uses service connection 'nobody-set-this', which is set neither for acme\/other nor for organization acme/,
    );
    const runs = await t.api<{ runs: unknown[] }>('GET', '/repos/acme/other/cicd/runs');
    assert.equal(runs.body.runs.length, 0, 'nothing was stored');
  });

  it('runs a GitHub Action cube on the server', async () => {
    const run = await runToEnd(t, 'greet');
    assert.equal(run.status, 'success', JSON.stringify(run, null, 2));
    const greet = run.workflows[0]?.tasks[0]?.cubes.find((c) => c.slug === 'greet');
    assert.equal(greet?.outputs.greeting, 'hello server');
    const log = await t.api<{ logs: string }>('GET', `${P}/cicd/logs/${run.slug}/greet/js/after?page=1`);
    assert.equal(log.body.logs, 'hello server / set-by-greet\n');
    const main = await t.api<{ logs: string }>('GET', `${P}/cicd/logs/${run.slug}/greet/js/greet?page=1`);
    assert.match(main.body.logs, /hello server \(node-version=lts, repo=acme\/app\)/);
  });

  it('reads .src.ci.yaml when the repository has nothing else, and the run carries the warning', async () => {
    await registerRepo(
      t,
      tempRepo({
        '.src.ci.yaml':
          'workflows:\n  w:\n    tasks: [{name: t, cubes: [{name: c, script: [echo legacy]}]}]\n',
      }),
      { slug: 'legacy' },
    );
    const run = await runToEnd(t, 'w', '/repos/acme/legacy');
    assert.equal(run.status, 'success');
    assert.match(
      run.warnings?.[0] ?? '',
      /^\.src\.ci\.yaml:1:1: \.src\.ci\.yaml is SourceCraft's deprecated config file/,
    );
  });

  it('conveyor service-connections set, list and delete', async () => {
    const env = { CONVEYOR_SERVER: t.url, CONVEYOR_TOKEN: ADMIN_TOKEN };
    const set = await runCli(
      [
        'service-connections',
        'set',
        'cli-conn',
        '-R',
        'acme/app',
        '--audience',
        'cli-aud',
        '--service-account-id',
        'sa-cli',
      ],
      { env },
    );
    assert.equal(set.code, 0, set.stderr);
    assert.match(set.stdout, /service connection set: cli-conn +audience cli-aud, service account sa-cli/);
    const list = await runCli(['service-connections', 'list', '--org', 'acme', '--json'], { env });
    assert.deepEqual(
      (JSON.parse(list.stdout) as { service_connections: { name: string }[] }).service_connections.map(
        (c) => c.name,
      ),
      ['org-conn'],
    );
    const del = await runCli(['service-connections', 'delete', 'cli-conn', '-R', 'acme/app'], { env });
    assert.equal(del.stdout, 'service connection cli-conn deleted\n');
    const again = await runCli(['service-connections', 'delete', 'cli-conn', '-R', 'acme/app'], { env });
    assert.equal(again.code, 1);
    assert.match(again.stderr, /service connection 'cli-conn' not found/);
  });
});

describe('signing keys: rotated, old keys kept while their tokens live, shared by replicas (PostgreSQL)', () => {
  let a: TestServer;
  let b: TestServer;

  before(async () => {
    const databaseUrl = await tempPostgresUrl();
    const env = { CONVEYOR_OIDC_KEY_ROTATION_DAYS: '1', CONVEYOR_OIDC_TOKEN_TTL: '600' };
    a = await startTestServer({ databaseUrl, env });
    b = await startTestServer({ databaseUrl, env });
  });
  after(async () => {
    await a.close();
    await b.close();
  });

  const kids = async (t: TestServer) =>
    (await t.api<{ keys: { kid: string }[] }>('GET', '/.well-known/jwks', undefined, null)).body.keys.map(
      (k) => k.kid,
    );

  it('both replicas serve the same key', async () => {
    const [fromA, fromB] = await Promise.all([kids(a), kids(b)]);
    assert.equal(fromA.length, 1);
    assert.deepEqual(fromB, fromA);
  });

  it('after the rotation period a new key signs, the old one stays until its tokens expired', async () => {
    const [old] = await kids(a);
    a.clock.offsetMs = b.clock.offsetMs = 25 * 60 * 60 * 1000;
    const rotated = await kids(a);
    assert.equal(rotated.length, 2);
    assert.equal(rotated[1], old);
    assert.notEqual(rotated[0], old);
    assert.deepEqual(await kids(b), rotated, 'the other replica uses the key the first one made');
    // 10 minutes of token life, a minute of key caching and a minute of slack later, the old key goes.
    a.clock.offsetMs += 13 * 60 * 1000;
    assert.deepEqual(await kids(a), [rotated[0]]);
  });
});
