import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { CONTAINER_ENV, CONVEYOR, runCli, waitFor } from '../helpers/cli.js';
import { tempDir, tempRepo } from '../helpers/repo.js';

const TOKEN = 'deploy-cli-admin-token-0123456789';

describe('conveyor envs / releases / deploy / deployments against a server', () => {
  let server: ChildProcess;
  let env: Record<string, string> = {};
  let bobToken = '';
  const cli = (args: string[], extra: Record<string, string> = {}) =>
    runCli(args, { env: { ...env, ...extra } });

  before(async () => {
    const repo = tempRepo({
      '.conveyor/ci.yaml': `on:
  push: []
workflows:
  build:
    tasks: [{name: b, cubes: [{name: c, script: ["mkdir -p out && echo x > out/x"], artifacts: {paths: [out/]}}]}]
  deploy:
    tasks: [{name: d, cubes: [{name: c, script: ['echo "to $ENVIRONMENT_KEY: $RELEASE_VERSION"']}]}]
  needs-secret:
    tasks: [{name: d, cubes: [{name: c, script: ['echo "\${{ secrets.NOT_SET }}"']}]}]
`,
    });
    server = spawn(CONVEYOR, ['server', '--port', '0', '--data-dir', tempDir('conveyor-deploy-cli-')], {
      env: { ...process.env, ...CONTAINER_ENV, CONVEYOR_ADMIN_TOKEN: TOKEN },
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    let out = '';
    server.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    const url = await waitFor(() => /listening on (\S+)/.exec(out)?.[1], 'the server to start', 20_000);
    const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
    const post = (path: string, body: unknown) =>
      fetch(`${url}${path}`, { method: 'POST', headers, body: JSON.stringify(body) });
    await post('/orgs', { slug: 'acme', name: 'Acme' });
    assert.equal(
      (
        await post('/orgs/acme/repos', {
          slug: 'app',
          name: 'App',
          clone_url: repo,
          poll_interval_seconds: 0,
        })
      ).status,
      201,
    );
    await post('/users', { slug: 'bob', email: 'bob@example.com' });
    bobToken = ((await (await post('/users/bob/tokens', {})).json()) as { token: string }).token;
    await post('/repos/acme/app/roles', { subject_roles: [{ role: 'developer', subject: { id: 'bob' } }] });
    env = {
      CONVEYOR_SERVER: url,
      CONVEYOR_TOKEN: TOKEN,
      CONVEYOR_REPO: 'acme/app',
      XDG_CONFIG_HOME: tempDir(),
    };
  });
  after(() => server.kill('SIGTERM'));

  it('creates environments and a release, deploys through review, and shows the result', async () => {
    assert.equal((await cli(['runs', 'trigger', 'build', '--wait'])).code, 0);
    assert.equal((await cli(['envs', 'create', 'dev', '--order', '1', '--workflow', 'deploy'])).code, 0);
    const staging = await cli([
      'envs',
      'create',
      'staging',
      '--order',
      '2',
      '--approval',
      'require_any',
      '--reviewer',
      'bob',
    ]);
    assert.equal(staging.code, 0, staging.stderr);
    const list = await cli(['envs', 'list']);
    assert.match(list.stdout, /^ORDER\s+KEY\s+IN WORKFLOW\s+APPROVAL\s+TIMEOUT\s+DEPLOYS WITH\s+LIVE$/m);
    assert.match(list.stdout, /^1\s+dev\s+yes\s+none\s+-\s+workflow deploy\s+-$/m);
    assert.match(list.stdout, /^2\s+staging\s+yes\s+require_any\s+-\s+record only\s+-$/m);
    const created = await cli([
      'releases',
      'create',
      'first',
      '--from-run',
      '1',
      '--publish',
      'minor',
      '--json',
    ]);
    assert.equal(created.code, 0, created.stderr);
    assert.equal((JSON.parse(created.stdout) as { semanticVersion: string }).semanticVersion, '0.1.0');
    const deployed = await cli(['deploy', '0.1.0', '--json']);
    assert.equal(deployed.code, 0, deployed.stderr);
    const runId = (JSON.parse(deployed.stdout) as { id: string }).id;
    await waitFor(
      async () =>
        (JSON.parse((await cli(['deployments', 'get', runId, '--json'])).stdout) as { status: string })
          .status === 'waiting' || undefined,
      'staging to wait',
    );
    const self = await cli(['deployments', 'approve', runId]);
    assert.equal(self.code, 1, 'admin is not a reviewer of staging');
    assert.match(self.stderr, /only the reviewers/);
    const approved = await cli(['deployments', 'approve', runId, '--comment', 'lgtm'], {
      CONVEYOR_TOKEN: bobToken,
    });
    assert.equal(approved.code, 0, approved.stderr);
    await waitFor(
      async () =>
        (JSON.parse((await cli(['deployments', 'get', runId, '--json'])).stdout) as { status: string })
          .status === 'completed' || undefined,
      'the run to complete',
    );
    const shown = await cli(['deployments', 'get', runId]);
    assert.match(shown.stdout, /completed/);
    assert.match(shown.stdout, /staging\s+completed.*approved: lgtm/);
    assert.match(shown.stdout, /reviewed by bob@\S+ /, 'who reviewed, and when');
    assert.match(shown.stdout, /CI run #\d+ \(conveyor runs view \d+\)/, 'the CI run that deployed');
    const listed = await cli(['deployments', 'list']);
    assert.match(listed.stdout, new RegExp(`${runId}\\s+completed\\s+v2`));
    const again = await cli(['deployments', 'cancel', runId, '--comment', 'late']);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /only in_progress or waiting runs can be cancelled/);
    const one = await cli(['deploy', 'first', '--env', 'dev']);
    assert.equal(one.code, 0, one.stderr);
    assert.match(one.stdout, /\(release\)/);
  });

  it('refuses an environment whose workflow is missing, before recording anything', async () => {
    const before = JSON.parse((await cli(['deployments', 'list', '--json'])).stdout) as { total: number };
    const qa = await cli([
      'envs',
      'create',
      'qa',
      '--workflow',
      'nosuch',
      '--no-in-workflow',
      '--reviewer',
      'admin',
    ]);
    assert.equal(qa.code, 0, qa.stderr);
    assert.match(
      qa.stderr,
      /warning: workflow 'nosuch' is not in \.conveyor\/ci\.yaml on main \(defined: build, deploy, needs-secret\); deploying to qa is refused until it is/,
    );
    assert.doesNotMatch(qa.stderr, /admin has no role/, 'administrators see every repository');
    const badMode = await cli(['envs', 'create', 'qb', '--approval', 'requireany']);
    assert.equal(badMode.code, 2);
    assert.match(
      badMode.stderr,
      /--approval 'requireany' is not one of none, none_create_request, require_any, require_one_per_team/,
    );
    const badTimeout = await cli(['envs', 'create', 'qb', '--timeout', '3days']);
    assert.equal(badTimeout.code, 2);
    assert.match(badTimeout.stderr, /--timeout '3days' is not a duration/);
    const refused = await cli(['deploy', '0.1.0', '--env', 'qa']);
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(
      refused.stderr,
      /environment 'qa' deploys with workflow 'nosuch', which is not in \.conveyor\/ci\.yaml at [0-9a-f]{12} \(defined: build, deploy, needs-secret\)/,
    );
    const after = JSON.parse((await cli(['deployments', 'list', '--json'])).stdout) as { total: number };
    assert.equal(after.total, before.total, 'no deployment run recorded');
  });

  it('answers at once when the CI run of a deployment cannot start, and records why', async () => {
    assert.equal(
      (await cli(['envs', 'create', 'sec', '--workflow', 'needs-secret', '--no-in-workflow'])).code,
      0,
    );
    const deployed = await cli(['deploy', '0.1.0', '--env', 'sec', '--json'], {});
    assert.equal(deployed.code, 1, `the deployment failed: ${deployed.stderr}`);
    const run = JSON.parse(deployed.stdout) as {
      id: string;
      status: string;
      jobs: { status: string; data: { ciErrors?: string[] } }[];
    };
    assert.equal(run.status, 'failure');
    assert.match(
      run.jobs[0]?.data.ciErrors?.join() ?? '',
      /secret 'NOT_SET' is used by the config but not set/,
    );
  });
});
