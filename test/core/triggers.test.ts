import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parseCiConfig } from '../../src/core/config/parse-config.js';
import { matchesFilter } from '../../src/core/triggers/filters.js';
import { selectWorkflows, type GitEvent } from '../../src/core/triggers/select-workflows.js';

describe('filters: ordered globs with ! negation', () => {
  const table: [string[], string, boolean][] = [
    [['main'], 'main', true],
    [['main'], 'main2', false],
    [['release/*'], 'release/1.0', true],
    [['release/*'], 'release/1.0/hotfix', false],
    [['release/**'], 'release/1.0/hotfix', true],
    [['v?'], 'v1', true],
    [['v?'], 'v10', false],
    [['!test**'], 'main', false],
    [['**', '!test**'], 'main', true],
    [['**', '!test**'], 'test-x', false],
    [
      ['internal/**', '!internal/generated/**', 'internal/generated/models/auth/**'],
      'internal/generated/x.go',
      false,
    ],
    [
      ['internal/**', '!internal/generated/**', 'internal/generated/models/auth/**'],
      'internal/generated/models/auth/a.go',
      true,
    ],
    [
      ['internal/**', '!internal/generated/**', 'internal/generated/models/auth/**'],
      'internal/api/a.go',
      true,
    ],
    [['src/**'], '.github/x', false],
    [['**'], '.hidden/file', true],
    [[], 'main', false],
  ];
  for (const [patterns, value, expected] of table) {
    it(`${JSON.stringify(patterns)} ${expected ? 'matches' : 'does not match'} ${value}`, () => {
      assert.equal(matchesFilter(patterns, value), expected);
    });
  }

  it('a later pattern always wins over an earlier one', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom('a', 'b', 'a/b', 'c/d/e'), { minLength: 1, maxLength: 5 }),
        fc.boolean(),
        (globs, negate) => {
          const value = globs[globs.length - 1] as string;
          const patterns = [...globs.slice(0, -1), negate ? `!${value}` : value];
          assert.equal(matchesFilter(patterns, value), !negate);
        },
      ),
    );
  });
});

describe('which workflows an event starts', () => {
  const config = parseCiConfig(
    `on:
  push:
    - workflows: [build]
      filter: {branches: [main, "release/*"], paths: ["src/**", "!src/docs/**"]}
    - workflows: [release]
      filter: {tags: ["v*"]}
    - workflows: [build, lint]
      filter: {branches: ["feature/**"]}
  pull_request:
    - workflows: [lint]
      filter: {source_branches: ["**", "!wip/**"], target_branches: main}
workflows:
  build: {tasks: [{name: t, cubes: [{name: c, script: [x]}]}]}
  release: {tasks: [{name: t, cubes: [{name: c, script: [x]}]}]}
  lint: {tasks: [{name: t, cubes: [{name: c, script: [x]}]}]}
`,
    'ci.yaml',
  ).config;
  assert.ok(config);
  const table: [string, GitEvent, string[]][] = [
    ['push to main touching src', { kind: 'push', branch: 'main', changedPaths: ['src/a.ts'] }, ['build']],
    [
      'push to main touching only excluded paths',
      { kind: 'push', branch: 'main', changedPaths: ['src/docs/a.md'] },
      [],
    ],
    ['push to main, changed paths unknown', { kind: 'push', branch: 'main' }, ['build']],
    ['push to an unlisted branch', { kind: 'push', branch: 'dev', changedPaths: ['src/a.ts'] }, []],
    ['tag v1.2', { kind: 'push', tag: 'v1.2' }, ['release']],
    ['tag without a rule', { kind: 'push', tag: 'nightly' }, []],
    [
      'feature branch matching two rules: one run, each workflow once',
      { kind: 'push', branch: 'feature/x/y', changedPaths: ['a'] },
      ['build', 'lint'],
    ],
    [
      'pull request into main',
      { kind: 'pull_request', sourceBranch: 'fix/1', targetBranch: 'main' },
      ['lint'],
    ],
    ['pull request from wip', { kind: 'pull_request', sourceBranch: 'wip/1', targetBranch: 'main' }, []],
    [
      'pull request into another branch',
      { kind: 'pull_request', sourceBranch: 'fix/1', targetBranch: 'dev' },
      [],
    ],
  ];
  for (const [name, event, expected] of table) {
    it(name, () => assert.deepEqual(selectWorkflows(config.triggers, event), expected));
  }

  it('without an on: section every workflow runs on every branch push, and no tag push', () => {
    const plain = parseCiConfig(
      'workflows:\n  a: {tasks: [{name: t, cubes: [{name: c, script: [x]}]}]}\n  b: {tasks: [{name: t, cubes: [{name: c, script: [x]}]}]}\n',
      'ci.yaml',
    ).config;
    assert.ok(plain);
    assert.deepEqual(selectWorkflows(plain.triggers, { kind: 'push', branch: 'any' }), ['a', 'b']);
    assert.deepEqual(selectWorkflows(plain.triggers, { kind: 'push', tag: 'v1' }), []);
  });
});
