import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatDiagnostic } from '../../src/core/config/diagnostics.js';
import type { CiConfig } from '../../src/core/config/model.js';
import { parseCiConfig } from '../../src/core/config/parse-config.js';

function parse(yaml: string): CiConfig {
  const result = parseCiConfig(yaml, 'ci.yaml');
  assert.ok(result.config, result.diagnostics.map(formatDiagnostic).join('\n'));
  return result.config;
}

describe('config semantics', () => {
  it('a cube without needs follows the cube before it; [-] means no dependency', () => {
    const config = parse(`
workflows:
  w:
    tasks:
      - name: t
        cubes:
          - {name: a, script: x}
          - {name: b, script: x}
          - {name: c, needs: ['-'], script: x}
          - {name: d, needs: [a, c], script: x}
          - {name: e, script: x}
`);
    const cubes = config.workflows[0]?.tasks[0]?.cubes ?? [];
    assert.deepEqual(
      cubes.map((c) => [c.name, c.needs]),
      [
        ['a', []],
        ['b', ['a']],
        ['c', []],
        ['d', ['a', 'c']],
        ['e', ['d']],
      ],
    );
  });

  it('tasks are listed by name, as a list of names, or inline; uses overrides name/env/runs_on', () => {
    const config = parse(`
tasks:
  - name: common-1
    env: {A: "1", B: "base"}
    runs_on: [self-hosted]
    cubes: [{name: c, script: x}]
  - name: common-2
    cubes: [{name: c, script: x}]
  - name: common-3
    cubes: [{name: c, script: x}]
workflows:
  w:
    runs_on: compute
    tasks:
      - common-1
      - [common-2, common-3]
      - name: mine
        uses: common-1
        env: {B: "override"}
`);
    const tasks = config.workflows[0]?.tasks ?? [];
    assert.deepEqual(
      tasks.map((t) => t.name),
      ['common-1', 'common-2', 'common-3', 'mine'],
    );
    assert.deepEqual(tasks[3]?.env, { A: '1', B: 'override' });
    assert.deepEqual(tasks[3]?.runsOn, ['self-hosted']);
    assert.deepEqual(
      tasks[3]?.cubes.map((c) => c.name),
      ['c'],
    );
  });

  it('cube uses takes the top-level cube and lets local keys override', () => {
    const config = parse(`
cubes:
  - name: hello-cube
    env: {GREETING: hi, X: "1"}
    script: ['echo "Hello, world!"']
workflows:
  w:
    tasks:
      - name: t
        cubes:
          - name: my-cube
            uses: hello-cube
            env: {X: "2"}
          - uses: hello-cube
            needs: ['-']
`);
    const cubes = config.workflows[0]?.tasks[0]?.cubes ?? [];
    assert.equal(cubes[0]?.name, 'my-cube');
    assert.deepEqual(cubes[0]?.script, ['echo "Hello, world!"']);
    assert.deepEqual(cubes[0]?.env, { GREETING: 'hi', X: '2' });
    assert.equal(cubes[1]?.name, 'hello-cube');
  });

  it('scripts: a string, a list, a block; images: short and long form', () => {
    const config = parse(`
workflows:
  w:
    tasks:
      - name: t
        cubes:
          - {name: a, script: echo one}
          - name: b
            script:
              - echo two
              - |
                echo three
                echo four
          - name: c
            image: docker.io/library/node:20
            script: node --version
          - name: d
            image: {name: cr.example/cli:latest, entrypoint: "", args: [x]}
            script: run
`);
    const cubes = config.workflows[0]?.tasks[0]?.cubes ?? [];
    assert.deepEqual(cubes[0]?.script, ['echo one']);
    assert.deepEqual(cubes[1]?.script, ['echo two', 'echo three\necho four\n']);
    assert.deepEqual(cubes[2]?.image, { name: 'docker.io/library/node:20' });
    assert.deepEqual(cubes[3]?.image, { name: 'cr.example/cli:latest', entrypoint: [], args: ['x'] });
  });

  it('settings, inputs, checkout and env keep their values', () => {
    const config = parse(`
env: {GLOBAL: "1", NUM: 42}
workflows:
  w:
    settings: {max_cube_duration: 30s}
    checkout: {enabled: false, fetch_depth: 0}
    inputs:
      NAME: {type: string, required: true, description: who}
      COUNT: {type: number, default: "3"}
    env: {WF: yes}
    tasks: [{name: t, cubes: [{name: c, script: x}]}]
  other:
    tasks: [{name: t, cubes: [{name: c, script: x}]}]
`);
    const [w, other] = config.workflows;
    assert.deepEqual(config.env, { GLOBAL: '1', NUM: '42' });
    assert.equal(w?.maxCubeDurationMs, 30_000);
    assert.equal(other?.maxCubeDurationMs, 300_000);
    assert.deepEqual(w?.checkout, { enabled: false, fetchDepth: 0, removeCredentials: false });
    assert.deepEqual(w?.inputs, [
      { name: 'NAME', type: 'string', required: true, description: 'who' },
      { name: 'COUNT', type: 'number', required: false, default: '3' },
    ]);
    assert.deepEqual(w?.env, { WF: 'yes' });
  });

  it('YAML anchors and merge keys work', () => {
    const config = parse(`
x-common: &common
  script: echo shared
workflows:
  w:
    tasks:
      - name: t
        cubes:
          - name: a
            <<: *common
`);
    assert.deepEqual(config.workflows[0]?.tasks[0]?.cubes[0]?.script, ['echo shared']);
  });

  describe('triggers', () => {
    const wf = `
workflows:
  a:
    tasks: [{name: t, cubes: [{name: c, script: x}]}]
  b:
    tasks: [{name: t, cubes: [{name: c, script: x}]}]
`;
    it('no on: every workflow runs on push', () => {
      assert.deepEqual(parse(wf).triggers, {
        push: [{ workflows: ['a', 'b'] }],
        pullRequest: [],
        schedule: [],
      });
    });
    it('push with no parameters: every workflow', () => {
      assert.deepEqual(parse(`on:\n  push:\n${wf}`).triggers.push, [{ workflows: ['a', 'b'] }]);
    });
    it('short forms', () => {
      assert.deepEqual(parse(`on:\n  push: a\n${wf}`).triggers.push, [{ workflows: ['a'] }]);
      assert.deepEqual(parse(`on:\n  push: [a, b]\n${wf}`).triggers.push, [
        { workflows: ['a'] },
        { workflows: ['b'] },
      ]);
    });
    it('long forms with filters', () => {
      const config = parse(`
on:
  push:
    - workflows: a
      filter: {branches: ["main"], paths: ["src/**", "!src/gen/**"]}
    - workflows: [b]
      filter: {tags: ["v*"]}
  pull_request:
    - workflows: [a]
      filter: {source_branches: ["**", "!test**"], target_branches: main}
  schedule:
    - {workflows: [b], cron: "42 3 * * *", description: nightly}
    - {workflows: [a], interval: 6h}
${wf}`);
      assert.deepEqual(config.triggers, {
        push: [
          { workflows: ['a'], branches: ['main'], paths: ['src/**', '!src/gen/**'] },
          { workflows: ['b'], tags: ['v*'] },
        ],
        pullRequest: [{ workflows: ['a'], sourceBranches: ['**', '!test**'], targetBranches: ['main'] }],
        schedule: [
          { workflows: ['b'], cron: '42 3 * * *', description: 'nightly' },
          { workflows: ['a'], intervalMs: 6 * 3_600_000 },
        ],
      });
    });
  });
});
