import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CONTAINER_ENV, CONVEYOR, runCli, waitFor } from '../helpers/cli.js';
import { processesWith, processesWithEnv } from '../helpers/processes.js';
import { tempDir, tempRepo } from '../helpers/repo.js';
import { openTerminal, runOnTerminal } from '../helpers/terminal.js';

// Parallel tasks, cubes that print, a slow cube (3 × 1 s) and a failing one: what finding 1 crashed on.
const PIPELINE = `
workflows:
  build:
    tasks:
      - name: compile
        cubes:
          - name: version
            script: [echo "compiling version 1.2.3"]
          - name: slow
            script:
              - for i in 1 2 3; do echo "tick $i"; sleep 1; done
      - name: lint
        cubes:
          - name: style
            script: [echo "style checked", echo "a second line"]
      - name: broken
        cubes:
          - name: fails
            script: [echo "about to fail with a long line that goes on and on past sixty columns of text", exit 3]
      - name: test
        needs: [compile, lint]
        cubes:
          - name: check
            script: [echo "testing 1.2.3"]
`;

describe('conveyor run on a real terminal', () => {
  it('draws the live tree at 160 columns, with the running cube’s last line, and ends with the summary', async () => {
    const repo = tempRepo({ '.conveyor/ci.yaml': PIPELINE });
    const session = openTerminal(CONVEYOR, ['run'], { cwd: repo, cols: 160, rows: 45 });
    const running = await session.waitForScreen(
      (s) => /slow .*│ tick [12]/.test(s),
      'the slow cube’s output',
    );
    assert.match(running, /Run 1/);
    assert.match(running, /compile .*cubes/);
    assert.match(running, /lint/);
    const code = await session.exited;
    const text = session
      .allRows()
      .map((r) => r.text)
      .join('\n');
    assert.equal(code, 1, text);
    assert.doesNotMatch(text, /TypeError|at .*\.mjs:\d+/);
    assert.match(text, /── build \/ broken \/ fails: failed/);
    assert.match(text, /about to fail with a long line/);
    assert.match(text, /Run 1 failed in .*: 5 cubes/);
    assert.match(text, /✓ test/);
  });

  it('fits a 60×15 terminal: no wrapped rows, long lines cut', async () => {
    const repo = tempRepo({ '.conveyor/ci.yaml': PIPELINE });
    const session = openTerminal(CONVEYOR, ['run'], { cwd: repo, cols: 60, rows: 15 });
    await session.waitForScreen((s) => /│ tick/.test(s), 'the slow cube’s output');
    const during = session.allRows();
    assert.equal(
      during.filter((r) => r.wrapped).length,
      0,
      `wrapped rows while running:\n${during.map((r) => r.text).join('\n')}`,
    );
    assert.equal(await session.exited, 1);
    const rows = session.allRows();
    const tree = rows.slice(
      0,
      rows.findIndex((r) => r.text.startsWith('──')),
    );
    assert.ok(tree.length > 0 && tree.length <= 15, tree.map((r) => r.text).join('\n'));
    assert.equal(tree.filter((r) => r.wrapped).length, 0, tree.map((r) => r.text).join('\n'));
  });
});

// With `stubborn` the cube ignores SIGTERM, so only the second Ctrl-C (SIGKILL) ends it early.
const SLEEPER = (marker: string, stubborn: boolean) => `
workflows:
  build:
    tasks:
      - name: wait
        cubes:
          - name: sleeper
            script: [${stubborn ? `"trap '' TERM", ` : ''}echo started, sleep ${marker}]
`;

for (const launcher of ['1', '0']) {
  describe(`Ctrl-C on the terminal (CONVEYOR_LAUNCHER=${launcher})`, () => {
    const start = (stubborn = false) => {
      // A sleep length no other process has, to find the cube's process in /proc.
      const marker = `3${randomBytes(2).readUInt16BE()}.5`;
      const envMark = `CONVEYOR_TEST_SESSION=${randomBytes(6).toString('hex')}`;
      const repo = tempRepo({ '.conveyor/ci.yaml': SLEEPER(marker, stubborn) });
      // Its own temp dir, to see that the run's task directories are removed.
      const tmp = tempDir('conveyor-terminal-tmp-');
      const session = openTerminal(CONVEYOR, ['run'], {
        cwd: repo,
        cols: 120,
        rows: 30,
        env: { CONVEYOR_LAUNCHER: launcher, CONVEYOR_TEST_SESSION: envMark.split('=')[1] ?? '', TMPDIR: tmp },
      });
      return { session, marker, envMark, tmp };
    };
    const leftovers = (marker: string, envMark: string, tmp: string) => [
      ...processesWith(`sleep ${marker}`),
      ...processesWithEnv(envMark),
      ...readdirSync(tmp).filter((name) => name.startsWith('conveyor-run-')),
    ];

    it('cancels the run: canceled within 5 s, exit 1, nothing of the run left', async () => {
      const { session, marker, envMark, tmp } = start();
      await session.waitForScreen((s) => /sleeper .*│ started/.test(s), 'the cube running');
      assert.ok(processesWith(`sleep ${marker}`).length > 0, 'the cube’s sleep runs');
      const typed = Date.now();
      session.type('\x03');
      const code = await session.exited;
      const took = Date.now() - typed;
      const text = session
        .allRows()
        .map((r) => r.text)
        .join('\n');
      assert.equal(code, 1, text);
      assert.ok(took < 5000, `took ${took} ms`);
      assert.match(text, /Run 1 canceled/);
      assert.match(text, /sleeper/);
      assert.doesNotMatch(text, /launcher stopped unexpectedly|failed/);
      await waitFor(() => leftovers(marker, envMark, tmp).length === 0 || undefined, 'no process left', 3000);
    });

    it('a second Ctrl-C stops at once, leaving nothing behind', async () => {
      const { session, marker, envMark, tmp } = start(true);
      await session.waitForScreen((s) => /sleeper .*│ started/.test(s), 'the cube running');
      session.type('\x03');
      await session.waitForScreen((s) => /canceling the run/.test(s), 'the first Ctrl-C noticed');
      session.type('\x03');
      assert.equal(await session.exited, 130);
      await waitFor(() => leftovers(marker, envMark, tmp).length === 0 || undefined, 'no process left', 3000);
    });
  });
}

describe('conveyor run without a terminal', () => {
  it('prints plain lines through a pipe', async () => {
    const repo = tempRepo({ '.conveyor/ci.yaml': PIPELINE });
    const { code, text } = await runOnTerminal('bash', ['-c', `set -o pipefail; ${CONVEYOR} run | cat`], {
      cwd: repo,
    });
    assert.equal(code, 1);
    assert.match(text, /run 1: failed/);
  });
});

describe('server runs on a real terminal: runs watch and runs logs --follow', () => {
  const TOKEN = 'terminal-test-admin-token-0123456789';
  let server: ChildProcess;
  let env: Record<string, string> = {};
  // The ticker holds after its second line until the test opens this gate (or 30 s pass), so
  // "the line came while the cube still ran" does not depend on how busy the machine is.
  const gateDir = tempDir('conveyor-terminal-gate-');
  chmodSync(gateDir, 0o755);
  const gate = join(gateDir, 'open');
  const repo = tempRepo({
    '.conveyor/ci.yaml': `on:
  push: []
workflows:
  build:
    tasks:
      - name: t
        cubes:
          - name: ticker
            script:
              - 'for i in 1 2 3 4 5 6 7 8; do echo "tick $i"; sleep 0.4; if [ $i = 2 ]; then w=0; while [ ! -e ${gate} ] && [ $w -lt 300 ]; do sleep 0.1; w=$((w+1)); done; fi; done'
      - name: u
        cubes:
          - name: quick
            script: [echo quick]
`,
  });

  before(async () => {
    server = spawn(CONVEYOR, ['server', '--port', '0', '--data-dir', tempDir('conveyor-terminal-server-')], {
      env: { ...process.env, ...CONTAINER_ENV, CONVEYOR_ADMIN_TOKEN: TOKEN },
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    let out = '';
    server.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    const url = await waitFor(() => /listening on (\S+)/.exec(out)?.[1], 'the server to start', 20_000);
    env = {
      CONVEYOR_SERVER: url,
      CONVEYOR_TOKEN: TOKEN,
      CONVEYOR_REPO: 'acme/app',
      XDG_CONFIG_HOME: tempDir(),
    };
    assert.equal((await runCli(['orgs', 'create', 'acme'], { env })).code, 0);
    const made = await runCli(['repos', 'create', 'acme/app', '--clone-url', repo, '--poll', '0'], { env });
    assert.equal(made.code, 0, made.stderr);
  });
  after(() => server.kill('SIGTERM'));

  const trigger = async () => (await runCli(['runs', 'trigger', 'build', '-q'], { env })).stdout.trim();
  const cubeStatus = async (run: string) =>
    (
      JSON.parse((await runCli(['runs', 'get', run, '--json'], { env })).stdout) as {
        workflows: { tasks: { cubes: { slug: string; status: string }[] }[] }[];
      }
    ).workflows[0]?.tasks[0]?.cubes[0]?.status;

  it('runs watch draws the live tree while the run goes, and exits with its result', async () => {
    writeFileSync(gate, '');
    const run = await trigger();
    const session = openTerminal(CONVEYOR, ['runs', 'watch', run], { cwd: repo, env, cols: 100, rows: 20 });
    const live = await session.waitForScreen(
      (s) => /ticker/.test(s) && /Run \d+/.test(s),
      'the tree with the cube',
    );
    assert.match(live, /build/);
    assert.equal(await session.exited, 0);
    const text = session
      .allRows()
      .map((r) => r.text)
      .join('\n');
    assert.match(text, new RegExp(`Run #${run} success`));
    assert.match(text, /✓ t 1\/1 cubes/);
  });

  it('runs logs --follow shows lines while the cube still runs, then ends', async () => {
    rmSync(gate, { force: true });
    const run = await trigger();
    const session = openTerminal(CONVEYOR, ['runs', 'logs', run, 'build/t/ticker', '--follow'], {
      env,
      cols: 80,
      rows: 20,
    });
    await session.waitForScreen((s) => /tick 2/.test(s), 'the second line');
    assert.equal(await cubeStatus(run), 'processing', 'the line came before the cube ended');
    writeFileSync(gate, '');
    assert.equal(await session.exited, 0);
    assert.match(session.screen().join('\n'), /tick 1\ntick 2\n[\s\S]*tick 8/);
  });
});

describe('hidden prompts on a real terminal', () => {
  it('login and secrets set read the value without echoing it', async () => {
    const TOKEN = 'prompt-test-admin-token-0123456789';
    const server = spawn(
      CONVEYOR,
      ['server', '--port', '0', '--data-dir', tempDir('conveyor-prompt-server-')],
      {
        env: { ...process.env, ...CONTAINER_ENV, CONVEYOR_ADMIN_TOKEN: TOKEN },
        stdio: ['ignore', 'pipe', 'ignore'],
      },
    );
    try {
      let out = '';
      server.stdout?.on('data', (d: Buffer) => (out += d.toString()));
      const url = await waitFor(() => /listening on (\S+)/.exec(out)?.[1], 'the server to start', 20_000);
      const env = { XDG_CONFIG_HOME: tempDir(), CONVEYOR_SERVER: '', CONVEYOR_TOKEN: '' };
      const login = openTerminal(CONVEYOR, ['login', '--server', url], { env, cols: 100, rows: 10 });
      await login.waitForScreen((s) => /token for http/.test(s), 'the prompt');
      login.type(`${TOKEN}\r`);
      assert.equal(await login.exited, 0);
      const screen = login.screen().join('\n');
      assert.match(screen, /logged in to .* as admin/);
      assert.doesNotMatch(screen, new RegExp(TOKEN), 'the token is not echoed');
      assert.equal((await runCli(['orgs', 'create', 'acme'], { env })).code, 0);
      const repo = tempRepo({ 'a.txt': 'a' });
      assert.equal(
        (await runCli(['repos', 'create', 'acme/app', '--clone-url', repo, '--poll', '0'], { env })).code,
        0,
      );
      const set = openTerminal(CONVEYOR, ['secrets', 'set', 'API_KEY', '-R', 'acme/app'], {
        env,
        cols: 100,
        rows: 10,
      });
      await set.waitForScreen((s) => /value for API_KEY:/.test(s), 'the prompt');
      set.type('very-secret-value\r');
      assert.equal(await set.exited, 0);
      assert.doesNotMatch(set.screen().join('\n'), /very-secret-value/);
      assert.match((await runCli(['secrets', 'list', '-R', 'acme/app'], { env })).stdout, /API_KEY/);
    } finally {
      server.kill('SIGTERM');
    }
  });
});
