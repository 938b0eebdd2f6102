import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CONTAINER_ENV, CONVEYOR, runCli, waitFor } from '../helpers/cli.js';
import { tempDir, tempRepo, writeFiles } from '../helpers/repo.js';

const TOKEN = 'client-e2e-admin-token-0123456789';

/** The README's server walk-through, as a new user would do it: real server process, real CLI. */
describe('conveyor CLI against a server', () => {
  let server: ChildProcess;
  let url = '';
  let repo = '';
  let env: Record<string, string> = {};
  const cli = (args: string[], extra: Record<string, string> = {}) =>
    runCli(args, { env: { ...env, ...extra } });

  before(async () => {
    repo = tempRepo({
      '.conveyor/ci.yaml': `on:
  push: build
workflows:
  build:
    inputs: {WHO: {default: world}}
    tasks:
      - name: compile
        cubes:
          - name: package
            script:
              - echo "hello \${{ inputs.WHO }} with \${{ secrets.API_TOKEN }}"
              - mkdir -p out && echo built > out/app.txt
            artifacts: {paths: [out/app.txt]}
  slow:
    tasks: [{name: s, cubes: [{name: s, script: ["sleep 20.5"]}]}]
`,
    });
    const dataDir = tempDir('conveyor-cli-server-');
    server = spawn(CONVEYOR, ['server', '--port', '0', '--data-dir', dataDir], {
      env: { ...process.env, ...CONTAINER_ENV, CONVEYOR_ADMIN_TOKEN: TOKEN, CONVEYOR_TRIGGER_TICK_MS: '200' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    server.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    url = await waitFor(() => /listening on (\S+)/.exec(out)?.[1], 'the server to start', 20_000);
    const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
    await fetch(`${url}/orgs`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ slug: 'acme', name: 'Acme' }),
    });
    const made = await fetch(`${url}/orgs/acme/repos`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ slug: 'demo', name: 'Demo', clone_url: repo, poll_interval_seconds: 1 }),
    });
    assert.equal(made.status, 201);
    env = { XDG_CONFIG_HOME: tempDir('conveyor-cli-config-'), CONVEYOR_REPO: 'acme/demo' };
  });
  after(() => server.kill('SIGTERM'));

  it('logs in, stores the token privately, and says what to do on a bad token', async () => {
    const bad = await cli(['login', '--server', url, '--token', 'cvy_wrong']);
    assert.equal(bad.code, 3, 'a refused token is "not signed in" (docs/cli.md)');
    assert.match(bad.stderr, /token is unknown, revoked or expired/);
    assert.match(bad.stderr, /hint: log in again/);
    const good = await cli(['login', '--server', url, '--token', TOKEN]);
    assert.equal(good.code, 0, good.stderr);
    assert.match(good.stdout, /logged in to .* as admin/);
    const file = join(env.XDG_CONFIG_HOME ?? '', 'conveyor', 'config.json');
    assert.equal(execFileSync('stat', ['-c', '%a', file], { encoding: 'utf8' }).trim(), '600');
  });

  it('sets a secret from stdin, lists names only', async () => {
    const set = await new Promise<number | null>((resolve) => {
      const child = spawn(CONVEYOR, ['secrets', 'set', 'API_TOKEN'], {
        env: { ...process.env, ...env },
        stdio: ['pipe', 'ignore', 'ignore'],
      });
      child.stdin.end('tok-value-42\n');
      child.on('close', resolve);
    });
    assert.equal(set, 0);
    const list = await cli(['secrets', 'list', '--json']);
    assert.deepEqual(
      (JSON.parse(list.stdout) as { secrets: { name: string }[] }).secrets.map((s) => s.name),
      ['API_TOKEN'],
    );
    assert.doesNotMatch(list.stdout, /tok-value-42/);
  });

  it('sees a pushed commit start a run, follows its log, downloads its artifact', async () => {
    writeFiles(repo, { 'README.md': 'change' });
    execFileSync('git', ['add', '-A'], { cwd: repo });
    execFileSync('git', ['-c', 'user.name=T', '-c', 'user.email=t@e.com', 'commit', '-qm', 'push me'], {
      cwd: repo,
    });
    const run = await waitFor(
      async () => {
        const list = await cli(['runs', 'list', '--json']);
        return (JSON.parse(list.stdout) as { runs: { slug: string; event_type: string }[] }).runs.find(
          (r) => r.event_type === 'push',
        );
      },
      'a run for the push',
      20_000,
    );
    const follow = await cli(['runs', 'logs', run.slug, 'build/compile/package', '--follow']);
    assert.equal(follow.code, 0, follow.stderr);
    assert.match(follow.stdout, /hello world with \*\*\*/);
    const text = await cli(['runs', 'list']);
    assert.match(text.stdout, new RegExp(`#${run.slug}\\s+success\\s+push\\s+build`));
    const dir = tempDir('conveyor-cli-download-');
    const download = await cli([
      'runs',
      'artifacts',
      'download',
      run.slug,
      'build/compile/package',
      '-o',
      dir,
    ]);
    assert.equal(download.code, 0, download.stderr);
    assert.deepEqual(readdirSync(dir), ['app.txt']);
    assert.ok(existsSync(join(dir, 'app.txt')));
  });

  it('triggers by hand and waits; cancels a slow run; restarts it', async () => {
    const triggered = await cli(['runs', 'trigger', 'build', 'WHO=cli', '--wait']);
    assert.equal(triggered.code, 0, triggered.stderr);
    assert.match(triggered.stdout, /Run #\d+ success/);
    const slow = await cli(['runs', 'trigger', 'slow', '--json']);
    const slug = (JSON.parse(slow.stdout) as { slug: string }).slug;
    await waitFor(
      async () =>
        (JSON.parse((await cli(['runs', 'get', slug, '--json'])).stdout) as { status: string }).status ===
          'processing' || undefined,
      'the slow run to start',
    );
    const canceled = await cli(['runs', 'cancel', slug]);
    assert.equal(canceled.code, 0, canceled.stderr);
    assert.match(canceled.stdout, /canceled/);
    const again = await cli(['runs', 'cancel', slug]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already ended/);
    const restarted = await cli(['runs', 'restart', slug, '--json']);
    assert.equal(restarted.code, 0, restarted.stderr);
    const fresh = JSON.parse(restarted.stdout) as { slug: string; event_type: string };
    assert.equal(fresh.event_type, 'restart');
    await cli(['runs', 'cancel', fresh.slug]);
    const missing = await cli(['runs', 'get', '999']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /run 999 not found/);
  });
});
