import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CONTAINER_ENV, CONVEYOR, runCli, waitFor } from '../helpers/cli.js';
import { tempDir, tempRepo } from '../helpers/repo.js';

const TOKEN = 'admin-cli-admin-token-0123456789';

describe('conveyor orgs / repos / users / tokens / roles / webhook / auth against a server', () => {
  let server: ChildProcess;
  let url = '';
  let serverLog = '';
  const home = tempDir('conveyor-admin-cli-home-');
  const env = () => ({ XDG_CONFIG_HOME: home, CONVEYOR_SERVER: '', CONVEYOR_TOKEN: '', CONVEYOR_REPO: '' });
  const cli = (args: string[], extra: Record<string, string> = {}, cwd?: string) =>
    runCli(args, { env: { ...env(), ...extra }, ...(cwd ? { cwd } : {}) });
  const repo = tempRepo({
    '.conveyor/ci.yaml':
      'workflows:\n  build:\n    tasks: [{name: t, cubes: [{name: c, script: [echo hi]}]}]\n',
  });

  before(async () => {
    server = spawn(
      CONVEYOR,
      ['server', '--port', '0', '--data-dir', tempDir('conveyor-admin-cli-'), '--log-format', 'json'],
      {
        env: { ...process.env, ...CONTAINER_ENV, CONVEYOR_ADMIN_TOKEN: TOKEN },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    server.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    server.stderr?.on('data', (d: Buffer) => (serverLog += d.toString()));
    url = await waitFor(() => /listening on (\S+)/.exec(out)?.[1], 'the server to start', 20_000);
  });
  after(() => server.kill('SIGTERM'));

  it('signs in from standard input, and says who and where; without a sign-in exits 3', async () => {
    const none = await cli(['whoami']);
    assert.equal(none.code, 3, none.stderr);
    assert.match(none.stderr, /no server configured[\s\S]*hint: .*conveyor login/);
    const login = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = spawn(CONVEYOR, ['login', '--server', url.replace(/^http:\/\//, '')], {
        env: { ...process.env, ...env(), NO_COLOR: '1' },
      });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      child.on('close', (code) => resolve({ code, out }));
      child.stdin.end(`${TOKEN}\n`);
    });
    assert.equal(login.code, 0, login.out);
    assert.match(login.out, /logged in to http:\/\/127\.0\.0\.1:\d+ as admin \(administrator\)/);
    assert.equal((await cli(['whoami'])).stdout, 'admin (administrator)\n');
    const status = await cli(['auth', 'status', '--json']);
    assert.deepEqual(JSON.parse(status.stdout), {
      server: url,
      user: 'admin',
      admin: true,
      token_from: join(home, 'conveyor', 'config.json'),
    });
    assert.match((await cli(['ping'])).stdout, /is up/);
    const bad = await cli(['whoami'], { CONVEYOR_TOKEN: 'not-a-token-at-all' });
    assert.equal(bad.code, 3, 'a refused token is "not signed in"');
  });

  it('creates and lists organizations and repositories; the default branch comes from the remote', async () => {
    assert.equal((await cli(['orgs', 'create', 'acme', '-q'])).stdout, 'acme\n');
    const orgs = await cli(['orgs', 'list', '--json']);
    assert.deepEqual(
      (JSON.parse(orgs.stdout) as { organizations: { slug: string }[] }).organizations.map((o) => o.slug),
      ['acme'],
    );
    execFileSync('git', ['branch', '-m', 'main', 'trunk'], { cwd: repo });
    const created = await cli(['repos', 'create', 'acme/app', '--clone-url', repo, '--poll', '0']);
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, /created repository acme\/app \(default branch trunk, not polled\)/);
    const listed = await cli(['repos', 'list']);
    assert.match(listed.stdout, /^REPOSITORY\s+BRANCH\s+POLL\s+CLONE URL\nacme\/app\s+trunk\s+off\s+\//);
    const updated = await cli([
      'repos',
      'update',
      'acme/app',
      '--default-branch',
      'trunk',
      '--poll',
      '30',
      '--json',
    ]);
    assert.equal((JSON.parse(updated.stdout) as { poll_interval_seconds: number }).poll_interval_seconds, 30);
    const bad = await cli(['repos', 'update', 'acme/app', '--poll', 'often']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--poll 'often' is not a whole number/);
  });

  it('infers the repository from the checkout, or from repos link', async () => {
    const got = await cli(['repos', 'get', '-q'], {}, repo);
    assert.equal(got.stdout, 'acme/app\n', got.stderr);
    const elsewhere = tempRepo({ 'a.txt': 'a' });
    const none = await cli(['runs', 'list'], {}, elsewhere);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /which repository\?[\s\S]*conveyor repos link/);
    assert.equal((await cli(['repos', 'link', 'acme/app'], {}, elsewhere)).code, 0);
    assert.equal(
      execFileSync('git', ['config', 'conveyor.repo'], { cwd: elsewhere, encoding: 'utf8' }),
      'acme/app\n',
    );
    assert.equal((await cli(['runs', 'list', '--json'], {}, elsewhere)).code, 0);
  });

  it('manages users, tokens and roles; the webhook shows its URL and secret', async () => {
    const token = (await cli(['users', 'create', 'carol', '--token', '-q'])).stdout.trim();
    assert.match(token, /^\S{20,}$/);
    assert.equal((await cli(['whoami'], { CONVEYOR_TOKEN: token })).stdout, 'carol\n');
    assert.match(
      (await cli(['users', 'list'])).stdout,
      /USER\s+EMAIL\s+ADMIN\nadmin\s+admin@localhost\s+yes\ncarol\s+carol@localhost/,
    );
    const notAdmin = await cli(['users', 'list'], { CONVEYOR_TOKEN: token });
    assert.equal(notAdmin.code, 1);
    const second = JSON.parse(
      (
        await cli(['tokens', 'create', '--note', 'ci', '--expires', '30d', '--json'], {
          CONVEYOR_TOKEN: token,
        })
      ).stdout,
    ) as { id: string; token: string };
    const tokens = await cli(['tokens', 'list'], { CONVEYOR_TOKEN: token });
    assert.match(tokens.stdout, new RegExp(`${second.id}\\s+ci\\s+.*expires`));
    assert.equal((await cli(['tokens', 'revoke', second.id, '--user', 'carol'])).code, 0);
    assert.equal((await cli(['whoami'], { CONVEYOR_TOKEN: second.token })).code, 3);
    assert.equal((await cli(['roles', 'grant', 'carol', 'developer', '-R', 'acme/app'])).code, 0);
    assert.match((await cli(['roles', 'list', '-R', 'acme/app'])).stdout, /USER\s+ROLE\ncarol\s+developer/);
    const wrong = await cli(['roles', 'grant', 'carol', 'boss', '-R', 'acme/app']);
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, /role 'boss' is not one of viewer, contributor, developer, maintainer, admin/);
    assert.equal((await cli(['roles', 'revoke', 'carol', 'developer', '-R', 'acme/app'])).code, 0);
    assert.match((await cli(['roles', 'list', '-R', 'acme/app'])).stdout, /no roles granted/);
    const hook = JSON.parse((await cli(['webhook', 'show', '-R', 'acme/app', '--json'])).stdout) as {
      github_url: string;
      secret: string;
    };
    assert.equal(hook.github_url, `${url}/repos/acme/app/cicd/webhooks/github`);
    assert.match(hook.secret, /^\S{20,}$/);
  });

  it('logs runs, webhooks and the worker for the operator, as JSON lines', async () => {
    const hook = JSON.parse((await cli(['webhook', 'show', '-R', 'acme/app', '--json'])).stdout) as {
      gitlab_url: string;
      secret: string;
    };
    const sha = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: repo, encoding: 'utf8' }).trim();
    const answer = await fetch(hook.gitlab_url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-gitlab-token': hook.secret,
        'x-gitlab-event': 'Push Hook',
      },
      body: JSON.stringify({ ref: 'refs/heads/trunk', before: '0'.repeat(40), after: sha }),
    });
    assert.equal(answer.status, 202);
    await waitFor(() => /"event":"run_ended"/.test(serverLog) || undefined, 'the run to end in the log');
    const events = serverLog
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { event?: string; msg: string });
    const byEvent = (e: string) => events.find((x) => x.event === e)?.msg ?? '';
    assert.match(
      byEvent('worker_joined'),
      /^worker .* joined \(\d+ runs at once(, their tasks on embedded-1-\w+)?\)$/,
    );
    assert.match(byEvent('webhook_received'), /^gitlab webhook 'Push Hook' for acme\/app: run #1$/);
    assert.match(byEvent('run_started'), /^run acme\/app#1 started: push of trunk at [0-9a-f]{7} \(build\)$/);
    assert.match(byEvent('run_ended'), /^run acme\/app#1 success in /);
  });

  it('says in the log why a push started nothing', async () => {
    const bare = tempRepo({ 'README.md': 'no pipeline here' });
    assert.equal((await cli(['repos', 'create', 'acme/bare', '--clone-url', bare, '--poll', '0'])).code, 0);
    const hook = JSON.parse((await cli(['webhook', 'show', '-R', 'acme/bare', '--json'])).stdout) as {
      gitlab_url: string;
      secret: string;
    };
    const sha = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: bare, encoding: 'utf8' }).trim();
    await fetch(hook.gitlab_url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-gitlab-token': hook.secret,
        'x-gitlab-event': 'Push Hook',
      },
      body: JSON.stringify({ ref: 'refs/heads/main', before: '0'.repeat(40), after: sha }),
    });
    const line = await waitFor(
      () => serverLog.split('\n').find((l) => l.includes('"event":"push_skipped"')),
      'the skipped push in the log',
    );
    assert.match(
      (JSON.parse(line) as { msg: string }).msg,
      new RegExp(`^acme/bare: push to main at ${sha.slice(0, 7)}: no \\.conveyor/ci\\.yaml, skipped$`),
    );
  });

  it('deletes a repository only with --yes; logout forgets the sign-in', async () => {
    const refused = await cli(['repos', 'delete', 'acme/app']);
    assert.equal(refused.code, 2);
    assert.equal((await cli(['repos', 'delete', 'acme/app', '--yes'])).code, 0);
    assert.equal((await cli(['repos', 'get', 'acme/app'])).code, 1);
    assert.equal((await cli(['logout'])).code, 0);
    assert.equal((await cli(['whoami'])).code, 3);
  });
});

describe('conveyor start-up and usage errors', () => {
  it('a port in use and a file as data dir are one line and a hint, exit 2', async () => {
    const holder = spawn(process.execPath, [
      '-e',
      "require('net').createServer().listen(0,'127.0.0.1',function(){console.log(this.address().port)})",
    ]);
    const port = await new Promise<string>((resolve) =>
      holder.stdout.once('data', (d: Buffer) => resolve(d.toString().trim())),
    );
    try {
      const busy = await runCli(['server', '--port', port, '--data-dir', tempDir()], {
        env: { CONVEYOR_ADMIN_TOKEN: TOKEN },
      });
      assert.equal(busy.code, 2);
      assert.match(
        busy.stderr,
        new RegExp(`error: port ${port} on 127\\.0\\.0\\.1 is in use\\n  hint: pass --port 0`),
      );
      assert.doesNotMatch(busy.stderr, /at .*node:net|Error: listen/);
    } finally {
      holder.kill();
    }
    const file = join(tempDir(), 'afile');
    writeFileSync(file, '');
    const notDir = await runCli(['server', '--port', '0', '--data-dir', file]);
    assert.equal(notDir.code, 2);
    assert.match(notDir.stderr, /cannot use data dir .*afile: a file is in the way/);
    const proc = await runCli(['server', '--port', '0', '--data-dir', '/proc/conveyor-nope'], {
      timeoutMs: 20_000,
    });
    assert.equal(proc.code, 2);
    assert.match(proc.stderr, /cannot use data dir \/proc\/conveyor-nope: ENOENT/);
  });

  it('usage errors exit 2; bare conveyor prints help; -v prints the version', async () => {
    assert.equal((await runCli([])).code, 2);
    assert.equal((await runCli(['-v'])).stdout, '0.1.0\n');
    const unknown = await runCli(['repoz']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /Did you mean repos\?/);
    assert.equal(
      (
        await runCli(['runs', 'view', 'abc', '-R', 'a/b'], {
          env: { CONVEYOR_SERVER: 'http://127.0.0.1:9', CONVEYOR_TOKEN: 'x' },
        })
      ).code,
      2,
    );
    const down = await runCli(['runs', 'list', '-R', 'a/b'], {
      env: { CONVEYOR_SERVER: 'http://127.0.0.1:9', CONVEYOR_TOKEN: 'x' },
    });
    assert.equal(down.code, 3, 'cannot reach the server');
  });

  it('a container the runtime cannot start is reported as that, not as the script failing', async () => {
    const repo = tempRepo({
      '.conveyor/ci.yaml':
        'workflows:\n  build:\n    tasks: [{name: t, cubes: [{name: c, image: localhost/conveyor-no-such-image:1, script: [echo hi]}]}]\n',
    });
    const run = await runCli(['run'], { cwd: repo });
    assert.equal(run.code, 1);
    assert.match(run.stdout, /the container runtime failed before the script started \(exit 125/);
    assert.doesNotMatch(run.stdout, /script exited with code 125/);
  });

  it('conveyor run before the first commit: git status stays clean, .gitignore applies, numbers go on', async () => {
    const dir = tempDir('conveyor-unborn-');
    execFileSync('git', ['init', '-q', dir]);
    const config =
      'workflows:\n  build:\n    tasks: [{name: t, cubes: [{name: c, script: ["test ! -e secret.env", "mkdir -p out && echo x > out/x"], artifacts: {paths: [out/]}}]}]\n';
    execFileSync('mkdir', ['-p', join(dir, '.conveyor')]);
    writeFileSync(join(dir, '.conveyor', 'ci.yaml'), config);
    writeFileSync(join(dir, '.gitignore'), 'secret.env\n');
    writeFileSync(join(dir, 'secret.env'), 'KEY=1\n');
    const first = await runCli(['run'], { cwd: dir });
    assert.equal(first.code, 0, first.stdout + first.stderr);
    assert.match(first.stdout, /Run 1 success/);
    const status = execFileSync('git', ['status', '--porcelain', '-uall'], { cwd: dir, encoding: 'utf8' });
    assert.deepEqual(status.trim().split('\n').sort(), ['?? .conveyor/ci.yaml', '?? .gitignore']);
    execFileSync('git', ['add', '-A'], { cwd: dir });
    execFileSync('git', ['-c', 'user.name=T', '-c', 'user.email=t@e', 'commit', '-qm', 'first'], {
      cwd: dir,
    });
    assert.match((await runCli(['run'], { cwd: dir })).stdout, /Run 2 success/);
  });

  it('conveyor run piped into head cancels the run and cleans up, without a stack trace', () => {
    const repo = tempRepo({
      '.conveyor/ci.yaml':
        'workflows:\n  build:\n    tasks: [{name: t, cubes: [{name: c, script: ["for i in $(seq 1 100); do echo line $i; sleep 0.1; done"]}]}]\n',
    });
    const tmp = tempDir('conveyor-epipe-tmp-');
    const out = execFileSync(
      'bash',
      ['-c', `set -o pipefail; ${CONVEYOR} run --logs 2>"${tmp}/err" | head -1; echo "rc=$?"`],
      { cwd: repo, encoding: 'utf8', env: { ...process.env, TMPDIR: tmp, NO_COLOR: '1' } },
    );
    assert.match(out, /rc=1/, 'the run was canceled');
    const err = execFileSync('cat', [join(tmp, 'err')], { encoding: 'utf8' });
    assert.doesNotMatch(err, /EPIPE|Error|at /);
    assert.deepEqual(
      readdirSync(tmp).filter((f) => f.startsWith('conveyor-run-')),
      [],
      'no workspace left',
    );
  });

  it('piped into head, stops quietly', () => {
    const out = execFileSync(
      'bash',
      ['-c', `set -o pipefail; ${CONVEYOR} completion bash | head -1; echo "rc=$?"`],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    );
    assert.match(out, /^# conveyor completion for bash/);
    assert.match(out, /rc=0/);
  });

  it('completion scripts name the commands; bash completes them', async () => {
    const bash = (await runCli(['completion', 'bash'])).stdout;
    const words = execFileSync(
      'bash',
      ['-c', `${bash}\nCOMP_WORDS=(conveyor runs w); COMP_CWORD=2; _conveyor; echo "\${COMPREPLY[@]}"`],
      { encoding: 'utf8' },
    );
    assert.equal(words.trim(), 'watch');
    assert.match(
      (await runCli(['completion', 'fish'])).stdout,
      /complete -c conveyor -n '__fish_use_subcommand' -a repos/,
    );
    assert.match((await runCli(['completion', 'zsh'])).stdout, /bashcompinit/);
    assert.equal((await runCli(['completion', 'tcsh'])).code, 2);
  });
});
