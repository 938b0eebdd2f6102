import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ConfigParserPool } from '../../src/app/config-parser-pool.js';
import { parseConfigFile } from '../../src/app/load-config.js';
import { tempRepo } from '../helpers/repo.js';
import { registerRepo, startTestServer, type TestServer } from '../helpers/server.js';

const OK = 'workflows:\n  ok:\n    tasks: [{name: t, cubes: [{name: c, script: [echo ok]}]}]\n';

/** A branch of `repo` whose config is `text`. */
function branch(repo: string, name: string, text: string): void {
  execFileSync('git', ['checkout', '-q', '-b', name, 'main'], { cwd: repo });
  writeFileSync(join(repo, '.conveyor/ci.yaml'), text);
  execFileSync('git', ['-c', 'user.name=T', '-c', 'user.email=t@e', 'commit', '-qam', name], { cwd: repo });
  execFileSync('git', ['checkout', '-q', 'main'], { cwd: repo });
}

/**
 * The probe's D5: a 50 MB ci.yaml froze the server for 50 s and took 2.2 GB. Configs over 1 MiB
 * or 100,000 YAML nodes are refused with a 400 that says so, without being read whole.
 */
describe('config limits', () => {
  let t: TestServer;

  before(async () => {
    t = await startTestServer();
    const repo = tempRepo({ '.conveyor/ci.yaml': OK });
    // The probe's shape: many 1,000-character env values, then a cube (here 8 MB of them).
    const values = Array.from({ length: 8000 }, (_, i) => `    V${i}: ${'x'.repeat(1000)}`).join('\n');
    branch(
      repo,
      'huge',
      `workflows:\n  ok:\n    env:\n${values}\n    tasks: [{name: t, cubes: [{name: c, script: [echo]}]}]\n`,
    );
    const many = Array.from({ length: 60_000 }, (_, i) => `  K${i}: v`).join('\n');
    branch(repo, 'nodes', `env:\n${many}\n${OK}`);
    await registerRepo(t, repo);
  });
  after(async () => t.close());

  it('refuses a config over 1 MiB with a 400 naming the limit', async () => {
    const got = await t.api<{ error_code: string; message: string }>('POST', '/repos/acme/app/cicd/runs', {
      workflows: [{ name: 'ok' }],
      head: { branch: 'huge' },
    });
    assert.equal(got.status, 400, JSON.stringify(got.body));
    assert.equal(got.body.error_code, 'ValidationError');
    assert.match(
      JSON.stringify(got.body),
      /\.conveyor\/ci\.yaml:1:1: the config is \d+ bytes; the limit is 1048576 bytes/,
    );
    assert.equal((await t.api('GET', '/healthz', undefined, null)).status, 200);
  });

  it('refuses a config of more than 100,000 YAML nodes', async () => {
    const got = await t.api<{ message: string }>('POST', '/repos/acme/app/cicd/runs', {
      workflows: [{ name: 'ok' }],
      head: { branch: 'nodes' },
    });
    assert.equal(got.status, 400, JSON.stringify(got.body));
    assert.match(JSON.stringify(got.body), /more than 100000 YAML nodes/);
  });

  it('parses on a worker thread with the same result as in-process', async () => {
    const tasks = Array.from(
      { length: 400 },
      (_, i) => `      - {name: t${i}, cubes: [{name: c, script: [echo ${i}]}]}`,
    );
    const text = `workflows:\n  w:\n    tasks:\n${tasks.join('\n')}\n  bad: 3\n`;
    assert.ok(text.length > 16 * 1024, 'large enough to go to the worker');
    const pool = new ConfigParserPool();
    try {
      const viaWorker = await pool.parse(text, 'ci.yaml');
      // Equal but for the parse-time position functions of expression sites, which stay behind.
      assert.deepEqual(
        JSON.parse(JSON.stringify(viaWorker)),
        JSON.parse(JSON.stringify(parseConfigFile(text, 'ci.yaml'))),
      );
      assert.ok(viaWorker.diagnostics.some((d) => d.severity === 'error' && d.line > 400));
    } finally {
      pool.close();
    }
  });

  it('a parse that outlives its time limit answers with a diagnostic and the next one works', async () => {
    const pool = new ConfigParserPool(0);
    try {
      const big = `${OK}# ${'x'.repeat(20_000)}\n`;
      const stopped = await pool.parse(big, 'ci.yaml');
      assert.match(stopped.diagnostics[0]?.message ?? '', /took longer than 0 s/);
    } finally {
      pool.close();
    }
    const fresh = new ConfigParserPool();
    try {
      assert.ok((await fresh.parse(`${OK}# ${'x'.repeat(20_000)}\n`, 'ci.yaml')).config);
    } finally {
      fresh.close();
    }
  });
});
