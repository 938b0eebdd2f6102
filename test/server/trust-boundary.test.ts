import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '../helpers/cli.js';
import { tempRepo } from '../helpers/repo.js';
import { ADMIN_TOKEN, registerRepo, startTestServer, type TestServer } from '../helpers/server.js';

const ROOT = process.getuid?.() === 0;

interface RunJson {
  slug: string;
  status: string;
}

/**
 * The probe's D1 from inside a cube: what the cube must not read (the secret key, the database,
 * another repository's mirror, logs and artifacts, the server's /proc environ) and must not be
 * given (the server's environment). CI runs as root, so cubes run as the cube user here.
 */
describe('trust boundary: a cube cannot reach the server', { skip: !ROOT && 'needs root' }, () => {
  let t: TestServer;
  let otherRepoId = '';
  const saved = process.env.CONVEYOR_ADMIN_TOKEN;

  before(async () => {
    // As the README starts it: the token exported in the server's own environment.
    process.env.CONVEYOR_ADMIN_TOKEN = ADMIN_TOKEN;
    process.env.CONVEYOR_SECRET_KEY = 'test-secret-key-0123456789';
    process.env.CONVEYOR_TEST_PASSED = 'passed-on-purpose';
    t = await startTestServer({
      env: { CONVEYOR_PASS_ENV: 'CONVEYOR_TEST_PASSED', CONVEYOR_SECRET_KEY: '' },
    });
    const other = await registerRepo(
      t,
      tempRepo({
        '.conveyor/ci.yaml':
          'workflows: {w: {tasks: [{name: t, cubes: [{name: c, script: [echo other]}]}]}}\n',
      }),
      { slug: 'other' },
    );
    otherRepoId = other.id;
    const started = await t.api<RunJson>('POST', '/repos/acme/other/cicd/runs', {
      workflows: [{ name: 'w' }],
    });
    await finished(t, 'other', started.body.slug);
  });
  after(async () => {
    await t.close();
    if (saved === undefined) delete process.env.CONVEYOR_ADMIN_TOKEN;
    else process.env.CONVEYOR_ADMIN_TOKEN = saved;
    delete process.env.CONVEYOR_SECRET_KEY;
    delete process.env.CONVEYOR_TEST_PASSED;
  });

  it('keeps the data dir, the server environment and other repositories out of reach', async () => {
    const d = t.dataDir;
    const targets = [
      join(d, 'secret.key'),
      join(d, 'conveyor.db'),
      join(d, 'mirrors', `${otherRepoId}.git`, 'HEAD'),
      join(d, 'mirrors'),
      join(d, 'logs'),
      join(d, 'artifacts'),
      `/proc/${process.pid}/environ`,
    ];
    const probes = targets
      .map((p) => `if [ -d "${p}" ]; then ls "${p}"; else cat "${p}"; fi >/dev/null 2>&1 && echo "READ ${p}"`)
      .join('\n');
    const script = [
      'echo "uid=$(id -u)"',
      'env | cut -d= -f1 | sort | tr "\\n" " "; echo',
      'echo "admin=${CONVEYOR_ADMIN_TOKEN:-none} key=${CONVEYOR_SECRET_KEY:-none}"',
      'echo "passed=${CONVEYOR_TEST_PASSED:-none}"',
      probes,
      'echo probes-done',
    ].join('\n');
    const repo = tempRepo({
      '.conveyor/ci.yaml': `workflows:\n  x:\n    tasks:\n      - name: t\n        cubes:\n          - name: c\n            script:\n              - ${JSON.stringify(script)}\n`,
    });
    await registerRepo(t, repo, { slug: 'evil' });
    const started = await t.api<RunJson>('POST', '/repos/acme/evil/cicd/runs', {
      workflows: [{ name: 'x' }],
    });
    assert.equal(started.status, 200, JSON.stringify(started.body));
    const run = await finished(t, 'evil', started.body.slug);
    const log = (await t.api<{ logs: string }>('GET', `/repos/acme/evil/cicd/logs/${run.slug}/x/t/c`)).body
      .logs;
    assert.equal(run.status, 'success', log + JSON.stringify(run));
    assert.match(log, /probes-done/);
    assert.doesNotMatch(log, /uid=0\b/, 'the cube does not run as root');
    assert.doesNotMatch(log, /READ /, 'every protected path was refused');
    assert.match(log, /admin=none key=none/, 'the server environment does not reach the cube');
    assert.doesNotMatch(log, new RegExp(ADMIN_TOKEN));
    assert.match(log, /passed=passed-on-purpose/, 'CONVEYOR_PASS_ENV names pass');
  });

  it('leaves the data dir readable by the server alone', () => {
    const mode = (p: string) => statSync(join(t.dataDir, p)).mode & 0o777;
    assert.equal(mode(''), 0o711);
    assert.equal(mode('secret.key'), 0o600);
    assert.equal(mode('conveyor.db'), 0o600);
    for (const dir of ['mirrors', 'logs', 'artifacts']) assert.equal(mode(dir), 0o700, dir);
  });

  it('lets only server administrators create organizations and register local paths', async () => {
    assert.equal((await t.api('POST', '/users', { slug: 'nobody', email: 'n@example.com' })).status, 201);
    const token = (await t.api<{ token: string }>('POST', '/users/nobody/tokens', {})).body.token;
    const org = await t.api<{ error_code: string }>('POST', '/orgs', { slug: 'evilorg', name: 'e' }, token);
    assert.equal(org.status, 403, JSON.stringify(org.body));
    assert.equal(org.body.error_code, 'PermissionDenied');
  });

  it('with CONVEYOR_ORG_CREATORS=users, lets users create orgs but not register local paths', async () => {
    const open = await startTestServer({ env: { CONVEYOR_ORG_CREATORS: 'users' } });
    try {
      assert.equal(
        (await open.api('POST', '/users', { slug: 'nobody', email: 'n@example.com' })).status,
        201,
      );
      const token = (await open.api<{ token: string }>('POST', '/users/nobody/tokens', {})).body.token;
      assert.equal((await open.api('POST', '/orgs', { slug: 'theirs', name: 't' }, token)).status, 201);
      const path = tempRepo({ 'README.md': 'x' });
      for (const url of [path, `file://${path}`, `./relative`]) {
        const repo = await open.api<{ error_code: string }>(
          'POST',
          '/orgs/theirs/repos',
          { slug: 'r', name: 'r', clone_url: url, poll_interval_seconds: 0 },
          token,
        );
        assert.equal(repo.status, 403, `${url}: ${JSON.stringify(repo.body)}`);
      }
    } finally {
      await open.close();
    }
  });
});

async function finished(t: TestServer, repo: string, slug: string): Promise<RunJson> {
  return waitFor(
    async () => {
      const got = await t.api<RunJson>('GET', `/repos/acme/${repo}/cicd/runs/${slug}`);
      return ['success', 'failed', 'canceled', 'timeout'].includes(got.body.status) ? got.body : undefined;
    },
    `run ${repo}/${slug}`,
    30_000,
  );
}

describe('clone URL credentials (D11)', () => {
  it('a refused clone URL is answered without its token or the server paths', async () => {
    const t = await startTestServer();
    try {
      const got = await t.api<{ message: string }>('POST', '/orgs', { slug: 'acme', name: 'a' });
      assert.equal(got.status, 201);
      const repo = await t.api('POST', '/orgs/acme/repos', {
        slug: 'cred',
        name: 'c',
        clone_url: 'http://deploy:ghp_S3cretT0ken@127.0.0.1:9/alpha.git',
        poll_interval_seconds: 0,
      });
      assert.equal(repo.status, 400);
      assert.doesNotMatch(JSON.stringify(repo.body), /ghp_S3cretT0ken/);
      assert.doesNotMatch(JSON.stringify(repo.body), new RegExp(t.dataDir));
    } finally {
      await t.close();
    }
  });
});
