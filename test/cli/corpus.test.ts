import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runCli } from '../helpers/cli.js';
import { tempRepo } from '../helpers/repo.js';

// The compatibility corpus: real SourceCraft configs from public repositories (SOURCES.md beside
// them says which), treated as a peer's test suite. Valid ones validate, the ones SourceCraft itself
// rejects are rejected at the right place, and the ones that need no network and no public image run.
const DIR = fileURLToPath(new URL('../../../test/fixtures/real-configs/', import.meta.url));
const FILES = readdirSync(DIR).filter((f) => f.endsWith('.yaml'));
const INVALID = new Map(
  readFileSync(join(DIR, 'sourcecraft-invalid.txt'), 'utf8')
    .split('\n')
    .filter((l) => l.trim() && !l.startsWith('#'))
    .map((l) => [l.split(/\s+/)[0] ?? '', l.replace(/^\S+\s+/, '')] as const),
);

interface Diag {
  severity: string;
  line: number;
  column: number;
  message: string;
}

async function validate(file: string): Promise<{ code: number | null; valid: boolean; diagnostics: Diag[] }> {
  const result = await runCli(['validate', '--json', join(DIR, file)]);
  const parsed = JSON.parse(result.stdout) as { valid: boolean; diagnostics: Diag[] };
  return { code: result.code, ...parsed };
}

/** Where each invalid config must be rejected: the line, column and message of one error. */
const REJECTED_AT: Record<string, [number, number, RegExp]> = {
  '12-esp-iot-framework.yaml': [71, 1, /YAML syntax/],
  '14-dns-server.yaml': [172, 1, /a second YAML document starts here/],
  '18-whiterock-tg-bot.yaml': [18, 12, /scope 'api' of token .* is not org, repo or ref/],
};

describe('the real-config corpus', () => {
  it('has its sources and the list of configs SourceCraft rejects beside it', () => {
    const sources = readFileSync(join(DIR, 'SOURCES.md'), 'utf8');
    for (const file of FILES) assert.ok(sources.includes(file), `${file} is not in SOURCES.md`);
    assert.ok(FILES.length >= 23, `only ${FILES.length} configs`);
    assert.deepEqual([...INVALID.keys()].sort(), Object.keys(REJECTED_AT).sort());
  });

  for (const file of FILES) {
    if (INVALID.has(file)) {
      it(`${file} is rejected (${INVALID.get(file)})`, async () => {
        const result = await validate(file);
        assert.equal(result.code, 2);
        assert.equal(result.valid, false);
        const [line, column, message] = REJECTED_AT[file] ?? [0, 0, /./];
        const hit = result.diagnostics.find((d) => d.severity === 'error' && message.test(d.message));
        assert.ok(hit, JSON.stringify(result.diagnostics, null, 2));
        assert.deepEqual([hit.line, hit.column], [line, column]);
      });
    } else {
      it(`${file} validates`, async () => {
        const result = await validate(file);
        const errors = result.diagnostics.filter((d) => d.severity === 'error');
        assert.deepEqual(errors, []);
        assert.equal(result.code, 0);
      });
    }
  }

  it('warns where the corpus does what SourceCraft does not (cube if:, workflow_dispatch)', async () => {
    const vk = await validate('30-vktech-hackathon.yaml');
    const ifWarning = vk.diagnostics.find((d) => /the cube will always run/.test(d.message));
    assert.deepEqual([ifWarning?.line, ifWarning?.column], [81, 13]);
    const max = await validate('46-maxbridge.yaml');
    assert.ok(max.diagnostics.some((d) => /unknown trigger 'workflow_dispatch'/.test(d.message)));
  });

  it('the legacy .src.ci.yaml is found in a repository, with a deprecation warning', async () => {
    const dir = tempRepo({ '.src.ci.yaml': readFileSync(join(DIR, '40-memevizor-src-ci.yaml'), 'utf8') });
    const result = await runCli(['validate', '--json'], { cwd: dir });
    assert.equal(result.code, 0, result.stderr);
    const parsed = JSON.parse(result.stdout) as { file: string; diagnostics: Diag[] };
    assert.equal(parsed.file, '.src.ci.yaml');
    assert.match(parsed.diagnostics[0]?.message ?? '', /deprecated config file/);
    // Read after .sourcecraft/ci.yaml: with both, the new file is the config and nothing is deprecated.
    const both = tempRepo({
      '.src.ci.yaml': 'not: [valid',
      '.sourcecraft/ci.yaml': readFileSync(join(DIR, '38-geo-site.yaml'), 'utf8'),
    });
    const preferred = await runCli(['validate', '--json'], { cwd: both });
    assert.equal(preferred.code, 0, preferred.stdout);
    const read = JSON.parse(preferred.stdout) as { file: string; diagnostics: Diag[] };
    assert.equal(read.file, '.sourcecraft/ci.yaml');
    assert.deepEqual(read.diagnostics, []);
  });
});

interface RunOut {
  status: string;
  id: string;
  workflows: { slug: string; tasks: { slug: string; cubes: CubeOut[] }[] }[];
}
interface CubeOut {
  id: string;
  slug: string;
  status: string;
  exit_code?: number;
  error_message?: string;
  artifacts: { local_path: string; status: string; download_url?: string }[];
}

/** Runs a corpus config as `.sourcecraft/ci.yaml` of a fresh repository with `conveyor run --json`. */
async function runCorpus(file: string, args: string[], commitMessage?: string) {
  const dir = tempRepo({ '.sourcecraft/ci.yaml': readFileSync(join(DIR, file), 'utf8'), 'README.md': 'x\n' });
  if (commitMessage)
    execFileSync(
      'git',
      ['-c', 'user.name=T', '-c', 'user.email=t@e', 'commit', '-q', '--allow-empty', '-m', commitMessage],
      {
        cwd: dir,
      },
    );
  const result = await runCli(['run', '--json', ...args], { cwd: dir });
  assert.ok(result.stdout.startsWith('{'), `no JSON: ${result.stderr}`);
  const run = JSON.parse(result.stdout) as RunOut;
  const cubes = run.workflows.flatMap((w) => w.tasks.flatMap((t) => t.cubes));
  const log = (slug: string) => {
    const cube = cubes.find((c) => c.slug === slug);
    assert.ok(cube, `no cube ${slug}`);
    return readFileSync(join(dir, '.git', 'conveyor', 'logs', run.id, `${cube.id}.log`), 'utf8');
  };
  return { code: result.code, run, cubes, log, dir };
}

describe('corpus configs whose cubes need no network run as their scripts say', () => {
  it('42 (doc env scopes): four scopes, ${{ env.NAME }} reuse, a multi-line value', async () => {
    const { code, run, log } = await runCorpus('42-doc-env-scopes.yaml', [
      '--secret',
      'API_TOKEN=tok-5ecret',
    ]);
    assert.equal(code, 0);
    assert.equal(run.status, 'success');
    assert.equal(log('print'), 'hello workflow-level task-level cube-level hello\nfirst line\nsecond line\n');
  });

  it('44 (doc shared workflow): inputs reach the script, the artifact is stored', async () => {
    const { code, cubes } = await runCorpus('44-doc-shared-workflow.yaml', [
      '-i',
      'REPO=acme/lab',
      '-i',
      'EXERCISE=7',
    ]);
    assert.equal(code, 0);
    const artifact = cubes[0]?.artifacts[0];
    assert.equal(artifact?.status, 'success');
    assert.equal(
      readFileSync(fileURLToPath(artifact?.download_url ?? ''), 'utf8'),
      'repo=acme/lab\nexercise=7\n',
    );
  });

  it('02 (tessera): without a base commit the signature checks fail where git show finds no file', async () => {
    const { code, cubes, log } = await runCorpus('02-tessera.yaml', [
      '-w',
      'signatures',
      '-w',
      'enterprise-compatibility',
    ]);
    assert.equal(code, 1);
    for (const slug of ['verify', 'exact-source-consumers']) {
      const cube = cubes.find((c) => c.slug === slug);
      assert.equal(cube?.status, 'failed');
      // `test -n "$base" && ...` does not stop `set -e`; `git show ":.ci/..."` then exits 128.
      assert.equal(cube?.exit_code, 128, cube?.error_message);
      assert.match(log(slug), /fatal: .*\.ci\//);
    }
  });

  it('34 (automl): a commit titled [skip-sync] skips the sync to GitHub and succeeds', async () => {
    const { code, log } = await runCorpus(
      '34-automl-ai-pipeline.yaml',
      ['-w', 'sync-to-github', '--secret', 'GITHUB_TOKEN=ghp_not-used'],
      '[skip-sync] corpus run',
    );
    assert.equal(code, 0);
    assert.match(log('sync'), /\[skip-sync\], пропускаем синхронизацию/);
  });
});
