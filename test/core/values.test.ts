import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parseDuration } from '../../src/core/config/duration.js';
import { scanExpressions, substitute } from '../../src/core/config/expressions.js';
import { ancestors, findCycle } from '../../src/core/dag.js';
import { parseEnvFile } from '../../src/core/run/env-file.js';
import { LogMasker } from '../../src/core/run/mask.js';
import { predefinedEnv } from '../../src/core/run/predefined-env.js';

describe('env and output files', () => {
  it('reads KEY=VALUE lines and heredoc values; later wins', () => {
    const text = 'A=1\nB=x=y\n\nMULTI<<EOF\nline 1\nline 2\nEOF\nA=2\nEMPTY=\n';
    assert.deepEqual(parseEnvFile(text), {
      values: { A: '2', B: 'x=y', MULTI: 'line 1\nline 2', EMPTY: '' },
      errors: [],
    });
  });
  it('reports an unterminated heredoc and junk lines', () => {
    assert.deepEqual(parseEnvFile('X<<END\nabc\n').errors, [
      "line 1: 'X<<END' is not closed by a line 'END'",
    ]);
    assert.match(parseEnvFile('not a var\n').errors[0] ?? '', /expected KEY=VALUE/);
  });
});

describe('expressions', () => {
  it('finds references and reports malformed ones', () => {
    const { refs, errors } = scanExpressions('a ${{ secrets.X }} b ${{cubes.c-1.outputs.K}} ${{ 1 + 2 }}');
    assert.deepEqual(
      refs.map((r) => [r.context, r.path, r.offset]),
      [
        ['secrets', ['X'], 2],
        ['cubes', ['c-1', 'outputs', 'K'], 21],
      ],
    );
    assert.equal(errors.length, 1);
    assert.equal(scanExpressions('echo ${{ secrets.X').errors[0]?.message, "'${{' is not closed with '}}'");
  });
  it('substitutes and collects what it could not resolve', () => {
    const missing: Parameters<typeof substitute>[2] = [];
    const out = substitute(
      '${{ inputs.A }}-${{ secrets.B }}',
      (ref) => (ref.context === 'inputs' ? 'a' : undefined),
      missing,
    );
    assert.equal(out, 'a-');
    assert.equal(missing.length, 1);
  });
});

describe('durations', () => {
  const table: [string, number | undefined][] = [
    ['20s', 20_000],
    ['30m', 1_800_000],
    ['1h30m', 5_400_000],
    ['90', 90_000],
    ['72h', 259_200_000],
    ['0s', undefined],
    ['soon', undefined],
    ['5 m', undefined],
    ['', undefined],
  ];
  for (const [text, ms] of table)
    it(`${JSON.stringify(text)} -> ${ms}`, () => assert.equal(parseDuration(text), ms));
});

describe('dependency graph', () => {
  it('finds a cycle and reports its path', () => {
    const edges: Record<string, string[]> = { a: ['b'], b: ['c'], c: ['a'], d: [] };
    assert.deepEqual(
      findCycle(['a', 'b', 'c', 'd'], (n) => edges[n] ?? []),
      ['a', 'b', 'c', 'a'],
    );
    assert.equal(
      findCycle(['a', 'd'], (n) => (n === 'a' ? ['d'] : [])),
      undefined,
    );
  });
  it('ancestors are everything reachable', () => {
    const edges: Record<string, string[]> = { d: ['b', 'c'], b: ['a'], c: ['a'] };
    assert.deepEqual([...ancestors('d', (n) => edges[n] ?? [])].sort(), ['a', 'b', 'c']);
  });
});

describe('secret masking', () => {
  it('masks a secret split across chunks, anywhere in the stream (property)', () => {
    fc.assert(
      fc.property(
        // Shorter values are not masked (docs/security.md S10).
        fc
          .string({ minLength: 4, maxLength: 20 })
          .filter((s) => !s.includes('\n') && !s.includes('*') && s.trim().length >= 4),
        fc.string({ maxLength: 200 }),
        fc.array(fc.nat(300), { maxLength: 6 }),
        (secret, noise, cuts) => {
          const text = `${noise}${secret}\n${noise.replaceAll(secret, '')} again ${secret}`;
          const bytes = Buffer.from(text);
          const masker = new LogMasker([secret]);
          const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
          let out = '';
          let from = 0;
          for (const p of [...points, bytes.length]) {
            out += masker.push(bytes.subarray(from, p)).toString();
            from = p;
          }
          out += masker.end().toString();
          assert.ok(!out.includes(secret), `leaked: ${JSON.stringify(out)}`);
          assert.ok(out.includes('***'));
        },
      ),
    );
  });
  it('masks each line of a multi-line secret and leaves other output alone', () => {
    const masker = new LogMasker(['-----BEGIN KEY-----\nabc123secret\n-----END KEY-----', '']);
    const out = Buffer.concat([
      masker.push(Buffer.from('key: abc123secret\nplain line\n')),
      masker.end(),
    ]).toString();
    assert.equal(out, 'key: ***\nplain line\n');
  });
  it('keeps the streams of concurrent cubes apart', () => {
    const shared = new LogMasker(['s3cret']);
    const a = shared.stream();
    const b = shared.stream();
    // Interleaved as two cubes' output arrives: A's unfinished line must not end up in B's log.
    const outA = [a.push(Buffer.from('from A, s3c'))];
    const outB = [b.push(Buffer.from('from B\nand a tail')), b.end()];
    outA.push(a.push(Buffer.from('ret\n')), a.end());
    assert.equal(Buffer.concat(outA).toString(), 'from A, ***\n');
    assert.equal(Buffer.concat(outB).toString(), 'from B\nand a tail');
  });
  it('passes output through untouched when there are no secrets', () => {
    const chunk = Buffer.from('no newline at end');
    assert.equal(new LogMasker([]).push(chunk), chunk);
  });
});

describe('predefined variables', () => {
  it('gives SourceCraft names and CONVEYOR_* twins', () => {
    const env = predefinedEnv({
      context: {
        env: {},
        configFile: '.conveyor/ci.yaml',
        commit: {
          sha: '0123456789abcdef',
          ref: 'refs/heads/main',
          author: 'A <a@x>',
          message: 'Title\n\nBody text',
          timestamp: '2026-01-01T00:00:00Z',
        },
      },
      eventType: 'pr_update',
      runSlug: '7',
      workflow: 'w',
      task: 't',
      cube: 'c',
      checkoutEnabled: true,
      paths: {
        root: '/r',
        workspace: '/r/workspace',
        taskData: '/r/data',
        envFile: '/r/data/e',
        outputFile: '/r/data/o',
      },
    });
    assert.equal(env.CI, 'true');
    assert.equal(env.SOURCECRAFT_CI, 'true');
    assert.equal(env.SOURCECRAFT_COMMIT_SHORT_SHA, '01234567');
    assert.equal(env.SOURCECRAFT_COMMIT_REF_NAME, 'main');
    assert.equal(env.SOURCECRAFT_COMMIT_DESCRIPTION, 'Body text');
    assert.equal(env.SOURCECRAFT_EVENT, 'pull_request');
    assert.equal(env.CONVEYOR_WORKSPACE, '/r/workspace');
    assert.equal(env.SOURCECRAFT_BASE_SHA, '');
  });
});
