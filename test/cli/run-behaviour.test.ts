import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { CubeJson, RunJson } from '../../src/transport/run-json.js';
import { CONTAINER_ENV, CONVEYOR, runCli, waitFor } from '../helpers/cli.js';
import { defined } from '../helpers/defined.js';
import { processesWith } from '../helpers/processes.js';
import { tempDir, tempRepo, writeFiles } from '../helpers/repo.js';

function firstCube(stdout: string): CubeJson {
  return defined((JSON.parse(stdout) as RunJson).workflows[0]?.tasks[0]?.cubes[0], 'the first cube');
}

const simple = (script: string, extra = '') =>
  `workflows:\n  w:\n${extra}    tasks:\n      - name: t\n        cubes:\n          - name: c\n            script: ${JSON.stringify(script)}\n`;

describe('conveyor run: outcomes and exit codes', () => {
  it('exits 0 on success and prints a readable summary without a terminal', async () => {
    const repo = tempRepo({ '.conveyor/ci.yaml': simple('echo hi') });
    const result = await runCli(['run'], { cwd: repo });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /cube w\/t\/c: processing/);
    assert.match(result.stdout, /cube w\/t\/c: success/);
    assert.match(result.stdout, /Run 1 success in .*: 1 cube \(1 success\)/);
  });

  it('prints the log tail of a failed cube', async () => {
    const repo = tempRepo({ '.conveyor/ci.yaml': simple('echo the-reason >&2; exit 2') });
    const result = await runCli(['run', '-C', repo]);
    assert.equal(result.code, 1);
    assert.match(result.stdout, /── w \/ t \/ c: failed: script exited with code 2\n\s+the-reason/);
  });

  it('keeps the logs of cubes running at once apart, with secrets masked', async () => {
    const long = '0123456789-0123456789-0123456789';
    const repo = tempRepo({
      '.conveyor/ci.yaml': [
        'workflows:',
        '  w:',
        '    tasks:',
        '      - name: t',
        '        env: {S: "${{ secrets.S }}"}',
        '        cubes:',
        `          - {name: a, script: "printf 'alpha-${long} '; sleep 0.4; echo alpha-end $S; exit 1"}`,
        `          - {name: b, needs: ['-'], script: "sleep 0.2; printf 'beta-${long} '; sleep 0.4; echo beta-end; exit 1"}`,
        '',
      ].join('\n'),
    });
    const result = await runCli(['run', '--secret', 'S=hush-hush'], { cwd: repo });
    assert.equal(result.code, 1, result.stderr);
    assert.match(
      result.stdout,
      new RegExp(`── w / t / a: failed.*\\n\\s+alpha-${long} alpha-end \\*\\*\\*\\n`),
    );
    assert.match(result.stdout, new RegExp(`── w / t / b: failed.*\\n\\s+beta-${long} beta-end\\n`));
    assert.doesNotMatch(result.stdout, /hush-hush/);
  });

  it('reads .sourcecraft/ci.yaml when there is no .conveyor/ci.yaml', async () => {
    const repo = tempRepo({ '.sourcecraft/ci.yaml': simple('echo from-sourcecraft') });
    const result = await runCli(['run', '--json'], { cwd: repo });
    assert.equal(result.code, 0, result.stderr);
    assert.equal((JSON.parse(result.stdout) as RunJson).status, 'success');
  });

  it('runs only the workflows named with --workflow', async () => {
    const repo = tempRepo({
      '.conveyor/ci.yaml':
        'workflows:\n  a:\n    tasks: [{name: t, cubes: [{name: c, script: "true"}]}]\n  b:\n    tasks: [{name: t, cubes: [{name: c, script: "false"}]}]\n',
    });
    const result = await runCli(['run', '--json', '-w', 'a'], { cwd: repo });
    assert.equal(result.code, 0);
    assert.deepEqual(
      (JSON.parse(result.stdout) as RunJson).workflows.map((w) => w.slug),
      ['a'],
    );
  });

  it('works in a directory that is not a git repository', async () => {
    const dir = tempDir();
    writeFiles(dir, { '.conveyor/ci.yaml': simple('cat data.txt'), 'data.txt': 'plain dir' });
    const result = await runCli(['run', '--json'], { cwd: dir });
    assert.equal(result.code, 0, result.stderr);
  });

  it('refuses an artifact that is a symlink out of the workspace', async () => {
    const repo = tempRepo({
      '.conveyor/ci.yaml': simple('ln -s /etc/hostname leak.txt; mkdir -p d; ln -s /etc d/etc', '').replace(
        'script:',
        'artifacts: {paths: [leak.txt, d/etc/hostname]}\n            script:',
      ),
    });
    const result = await runCli(['run', '--json'], { cwd: repo });
    const artifacts = firstCube(result.stdout).artifacts;
    assert.equal(artifacts[0]?.status, 'failed');
    assert.match(artifacts[0]?.error ?? '', /symlink to .* outside the workspace; it was refused/);
    assert.notEqual(artifacts[1]?.status, 'success');
  });

  it('keeps a workspace symlink that stays inside', async () => {
    const repo = tempRepo({
      '.conveyor/ci.yaml': simple('echo data > real.txt; ln -s real.txt link.txt').replace(
        'script:',
        'artifacts: {paths: [link.txt]}\n            script:',
      ),
    });
    const result = await runCli(['run', '--json'], { cwd: repo });
    const artifact = defined(firstCube(result.stdout).artifacts[0]);
    assert.equal(artifact.status, 'success');
    assert.equal(artifact.files?.[0]?.size, 5);
  });
});

describe('conveyor run: bad input exits 2 and says what to do', () => {
  it('an invalid config prints file:line:column with a hint', async () => {
    const repo = tempRepo({
      '.conveyor/ci.yaml':
        'workflows:\n  w:\n    tasks:\n      - name: t\n        cubes:\n          - name: c\n            needs: [nope]\n            script: x\n',
    });
    const result = await runCli(['run'], { cwd: repo });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /\.conveyor\/ci\.yaml:7:21: error: cube 'c' needs 'nope'/);
    assert.match(result.stderr, /hint: /);
  });

  it('no config at all', async () => {
    const repo = tempRepo({ 'README.md': 'x' });
    const result = await runCli(['run'], { cwd: repo });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /error: no pipeline config in .*\n\s+hint: create \.conveyor\/ci\.yaml/);
  });

  it('a missing required input, an unknown input, an unknown workflow, a missing secret', async () => {
    const repo = tempRepo({
      '.conveyor/ci.yaml':
        'workflows:\n  w:\n    inputs: {NAME: {required: true}}\n    tasks: [{name: t, cubes: [{name: c, script: "echo ${{ secrets.KEY }}"}]}]\n',
    });
    let result = await runCli(['run'], { cwd: repo });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /workflow 'w': missing required input 'NAME'/);
    result = await runCli(['run', '-i', 'NAME=x', '-i', 'OTHER=1'], { cwd: repo });
    assert.match(result.stderr, /unknown input 'OTHER'/);
    result = await runCli(['run', '-w', 'nope'], { cwd: repo });
    assert.match(result.stderr, /unknown workflow 'nope' \(defined: w\)/);
    result = await runCli(['run', '-i', 'NAME=x'], { cwd: repo });
    assert.equal(result.code, 2);
    assert.match(
      result.stderr,
      /secret 'KEY' is used by the config but was not given \(pass --secret KEY=VALUE/,
    );
    const secrets = join(tempDir(), 'secrets.env');
    writeFileSync(secrets, '# deploy key\nKEY=from-file\n');
    result = await runCli(['run', '-i', 'NAME=x', '--secrets-file', secrets, '--json'], { cwd: repo });
    assert.equal(result.code, 0, result.stderr);
  });

  it('a malformed secrets file names the line without printing it', async () => {
    const repo = tempRepo({ '.conveyor/ci.yaml': simple('true') });
    const secrets = join(tempDir(), 'secrets.env');
    writeFileSync(secrets, 'A=1\nexport TOKEN=hunter2-very-secret\n');
    const result = await runCli(['run', '--secrets-file', secrets], { cwd: repo });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /secrets file .*: line 2 is not NAME=VALUE/);
    assert.doesNotMatch(result.stderr, /hunter2/);
  });

  it('malformed options', async () => {
    const repo = tempRepo({ '.conveyor/ci.yaml': simple('true') });
    let result = await runCli(['run', '--secret', 'novalue'], { cwd: repo });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /--secret 'novalue' is not NAME=VALUE/);
    result = await runCli(['run', '--parallel', 'lots'], { cwd: repo });
    assert.equal(result.code, 2);
    result = await runCli(['run', '--no-such-flag'], { cwd: repo });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /unknown option/);
  });

  it('a cube needing a container when none is configured fails with the reason', async () => {
    const repo = tempRepo({
      '.conveyor/ci.yaml': simple('true').replace('script:', 'image: alpine\n            script:'),
    });
    const result = await runCli(['run', '--json'], {
      cwd: repo,
      env: { ...CONTAINER_ENV, CONVEYOR_CONTAINER_RUNTIME: '', PATH: '/usr/bin:/bin' },
    });
    assert.equal(result.code, 1);
    const c = firstCube(result.stdout);
    assert.equal(c.status, 'failed');
    assert.match(c.error_message ?? '', /needs a container runtime, and none is configured/);
  });
});

describe('conveyor run: Ctrl-C', () => {
  it('cancels the run, ends every process it started and reports canceled', async () => {
    const marker = `${Math.floor(Math.random() * 1e6)}.125`;
    const repo = tempRepo({
      '.conveyor/ci.yaml': `workflows:\n  w:\n    tasks:\n      - name: t\n        cubes:\n          - {name: long, script: "sleep ${marker} & sleep ${marker}"}\n          - {name: next, script: "echo never"}\n      - name: u\n        cubes: [{name: other, script: "sleep ${marker}"}]\n`,
    });
    const child = spawn(CONVEYOR, ['run', '--json'], {
      cwd: repo,
      env: { ...process.env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    await waitFor(
      () => processesWith(`sleep ${marker}`).length >= 3 || undefined,
      'the cubes to start',
      20_000,
    );
    child.kill('SIGINT');
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.equal(code, 1);
    assert.deepEqual(processesWith(`sleep ${marker}`), [], 'no orphan process is left');
    const run = JSON.parse(stdout) as RunJson;
    assert.equal(run.status, 'canceled');
    assert.deepEqual(run.error_messages, ['canceled by SIGINT']);
    const cubes = defined(run.workflows[0]).tasks.flatMap((t) => t.cubes.map((c) => [c.slug, c.status]));
    assert.deepEqual(cubes, [
      ['long', 'canceled'],
      ['next', 'canceled'],
      ['other', 'canceled'],
    ]);
  });
});

describe('conveyor validate', () => {
  it('exits 0 for a valid config and says what it found', async () => {
    const repo = tempRepo({ '.conveyor/ci.yaml': simple('true') });
    const result = await runCli(['validate'], { cwd: repo });
    assert.equal(result.code, 0);
    assert.match(result.stdout, /\.conveyor\/ci\.yaml is valid: 1 workflow\(s\), 1 task\(s\), 1 cube\(s\)/);
  });

  it('exits 2 with positioned errors; warnings alone keep it valid', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'cfg'));
    writeFileSync(
      join(dir, 'cfg', 'bad.yaml'),
      'workflows:\n  w:\n    tasks:\n      - name: t\n        cubes:\n          - {name: c, script: x, allow_failure: maybe}\n',
    );
    writeFileSync(
      join(dir, 'cfg', 'warn.yaml'),
      'workflows:\n  w:\n    tasks:\n      - name: t\n        colour: blue\n        cubes: [{name: c, script: x}]\n',
    );
    let result = await runCli(['validate', 'cfg/bad.yaml'], { cwd: dir });
    assert.equal(result.code, 2);
    assert.match(
      result.stderr,
      /cfg\/bad\.yaml:6:49: error: allow_failure of cube 'c' must be true or false/,
    );
    result = await runCli(['validate', 'cfg/warn.yaml'], { cwd: dir });
    assert.equal(result.code, 0);
    assert.match(result.stderr, /warning: unknown key 'colour'/);
    result = await runCli(['validate', 'cfg/bad.yaml', '--json'], { cwd: dir });
    const json = JSON.parse(result.stdout) as { valid: boolean; diagnostics: { line: number }[] };
    assert.equal(json.valid, false);
    assert.equal(json.diagnostics[0]?.line, 6);
  });

  it('a path that does not exist', async () => {
    const result = await runCli(['validate', '/no/such/place']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /does not exist/);
  });
});
