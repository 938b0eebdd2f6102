import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatDiagnostic } from '../../src/core/config/diagnostics.js';
import { parseCiConfig } from '../../src/core/config/parse-config.js';

function errors(yaml: string) {
  const result = parseCiConfig(yaml, '.conveyor/ci.yaml');
  assert.equal(result.config, undefined, 'expected the config to be invalid');
  return result.diagnostics.filter((d) => d.severity === 'error');
}

/** Asserts exactly one error at line:column whose message matches, with a hint. */
function expectError(yaml: string, line: number, column: number, message: RegExp, hint?: RegExp): void {
  const found = errors(yaml);
  const match = found.find((d) => message.test(d.message));
  assert.ok(match, `no error matching ${message}; got:\n${found.map(formatDiagnostic).join('\n')}`);
  assert.deepEqual([match.line, match.column], [line, column], formatDiagnostic(match));
  assert.equal(match.file, '.conveyor/ci.yaml');
  assert.ok(match.hint && match.hint.length > 0, 'every error carries a hint');
  if (hint) assert.match(match.hint, hint);
}

const y = (lines: string[]) => lines.join('\n') + '\n';

describe('config validation errors (file:line:column, message, hint)', () => {
  it('YAML syntax', () => {
    expectError(y(['workflows:', '  build:', '    tasks: [a', '  x: 1']), 4, 3, /YAML syntax/);
  });
  it('tab indentation', () => {
    const found = errors('workflows:\n\tbuild: {}\n');
    assert.match(found[0]?.message ?? '', /YAML syntax/);
    assert.equal(found[0]?.line, 2);
  });
  it('duplicate keys', () => {
    expectError(
      y([
        'workflows:',
        '  a:',
        '    tasks: [{name: t, cubes: [{name: c, script: x}]}]',
        '  a:',
        '    tasks: []',
      ]),
      4,
      3,
      /YAML syntax.*unique|Map keys must be unique/i,
      /once/,
    );
  });
  it('wrong type for tasks', () => {
    expectError(
      y(['workflows:', '  build:', '    tasks: 42']),
      3,
      12,
      /tasks of workflow 'build' must be a list/,
    );
  });
  it('wrong type for allow_failure', () => {
    expectError(
      y([
        'workflows:',
        '  w:',
        '    tasks:',
        '      - name: t',
        '        cubes:',
        '          - name: c',
        '            script: x',
        '            allow_failure: sometimes',
      ]),
      8,
      28,
      /allow_failure of cube 'c' must be true or false/,
    );
  });
  it('cube without script or image', () => {
    expectError(
      y(['workflows:', '  w:', '    tasks:', '      - name: t', '        cubes:', '          - name: c']),
      6,
      13,
      /neither script nor image/,
      /script/,
    );
  });
  it('unknown cube in needs, with a suggestion', () => {
    expectError(
      y([
        'workflows:',
        '  w:',
        '    tasks:',
        '      - name: t',
        '        cubes:',
        '          - name: build',
        '            script: x',
        '          - name: test',
        '            needs: [biuld]',
        '            script: x',
      ]),
      9,
      21,
      /cube 'test' needs 'biuld', which is not a cube in task 't'/,
      /did you mean 'build'/,
    );
  });
  it('unknown task in needs', () => {
    expectError(
      y([
        'workflows:',
        '  w:',
        '    tasks:',
        '      - name: a',
        '        needs: [zzz]',
        '        cubes: [{name: c, script: x}]',
      ]),
      5,
      17,
      /task 'a' needs 'zzz'/,
    );
  });
  it('a dependency cycle names the cycle', () => {
    expectError(
      y([
        'workflows:',
        '  w:',
        '    tasks:',
        '      - name: a',
        '        needs: [b]',
        '        cubes: [{name: c, script: x}]',
        '      - name: b',
        '        needs: [a]',
        '        cubes: [{name: c, script: x}]',
      ]),
      4,
      9,
      /cycle: a -> b -> a/,
    );
  });
  it('a cube that needs itself', () => {
    expectError(
      y([
        'workflows:',
        '  w:',
        '    tasks:',
        '      - name: t',
        '        cubes:',
        '          - {name: c, needs: [c], script: x}',
      ]),
      6,
      31,
      /needs itself/,
    );
  });
  it('duplicate cube names', () => {
    expectError(
      y([
        'workflows:',
        '  w:',
        '    tasks:',
        '      - name: t',
        '        cubes:',
        '          - {name: c, script: x}',
        '          - {name: c, script: y}',
      ]),
      7,
      13,
      /duplicate cube name 'c'/,
      /line 6/,
    );
  });
  it('duplicate task names', () => {
    expectError(
      y([
        'workflows:',
        '  w:',
        '    tasks:',
        '      - {name: t, cubes: [{name: c, script: x}]}',
        '      - {name: t, cubes: [{name: c, script: x}]}',
      ]),
      5,
      9,
      /duplicate task name 't'/,
    );
  });
  it('unknown uses', () => {
    expectError(
      y([
        'cubes:',
        '  - {name: hello, script: x}',
        'workflows:',
        '  w:',
        '    tasks:',
        '      - name: t',
        '        cubes:',
        '          - uses: helo',
      ]),
      8,
      19,
      /'helo' is not a cube in the top-level cubes/,
      /did you mean 'hello'/,
    );
  });
  it('unknown task reference by name', () => {
    expectError(
      y([
        'tasks:',
        '  - {name: common, cubes: [{name: c, script: x}]}',
        'workflows:',
        '  w:',
        '    tasks: [comon]',
      ]),
      5,
      13,
      /lists task 'comon'/,
      /did you mean 'common'/,
    );
  });
  it('undeclared input in an expression points into the script', () => {
    expectError(
      y([
        'workflows:',
        '  w:',
        '    inputs:',
        '      NAME: {type: string}',
        '    tasks:',
        '      - name: t',
        '        cubes:',
        '          - name: c',
        '            script:',
        '              - echo ${{ inputs.NAM }}',
      ]),
      10,
      22,
      /names input 'NAM', which workflow 'w' does not declare/,
      /did you mean 'NAME'/,
    );
  });
  it('expression position inside a block scalar', () => {
    expectError(
      y([
        'workflows:',
        '  w:',
        '    tasks:',
        '      - name: t',
        '        cubes:',
        '          - name: c',
        '            script: |',
        '              echo one',
        '              echo ${{ nope.x }}',
      ]),
      9,
      20,
      /unknown expression context 'nope'/,
    );
  });
  it('cube outputs from a cube that does not run earlier', () => {
    expectError(
      y([
        'workflows:',
        '  w:',
        '    tasks:',
        '      - name: t',
        '        cubes:',
        '          - {name: a, script: "echo ${{ cubes.b.outputs.X }}"}',
        '          - {name: b, script: x}',
      ]),
      6,
      37,
      /reads outputs of cube 'b' but does not run after it/,
      /add 'b' to the needs/,
    );
  });
  it('task outputs of a task that is not needed', () => {
    expectError(
      y([
        'workflows:',
        '  w:',
        '    tasks:',
        '      - name: a',
        '        outputs: {V: "${{ cubes.c.outputs.V }}"}',
        '        cubes: [{name: c, script: x}]',
        '      - name: b',
        '        cubes: [{name: c, script: "echo ${{ tasks.a.outputs.V }}"}]',
      ]),
      8,
      41,
      /does not need it/,
      /needs: \[a\]/,
    );
  });
  it('task output that the task does not declare', () => {
    expectError(
      y([
        'workflows:',
        '  w:',
        '    tasks:',
        '      - name: a',
        '        outputs: {V: "${{ cubes.c.outputs.V }}"}',
        '        cubes: [{name: c, script: x}]',
        '      - name: b',
        '        needs: [a]',
        '        cubes: [{name: c, script: "echo ${{ tasks.a.outputs.W }}"}]',
      ]),
      9,
      41,
      /declares no output 'W'/,
      /did you mean 'V'/,
    );
  });
  it('malformed expression', () => {
    expectError(
      y([
        'workflows:',
        '  w:',
        '    tasks:',
        '      - name: t',
        '        cubes: [{name: c, script: "echo ${{ secrets.A || secrets.B }}"}]',
      ]),
      5,
      41,
      /unsupported expression/,
    );
  });
  it('a GitHub Action cube without @ref is an error at the reference', () => {
    expectError(
      y([
        'workflows:',
        '  w:',
        '    tasks:',
        '      - name: t',
        '        cubes:',
        '          - name: c',
        '            action: actions/checkout',
      ]),
      7,
      21,
      /action of cube 'c': 'actions\/checkout' has no @ref/,
      /owner\/repo@v1/,
    );
  });
  it('GitLab pipeline cubes are a clear error', () => {
    expectError(
      y([
        'workflows:',
        '  w:',
        '    tasks:',
        '      - name: t',
        '        cubes:',
        '          - name: c',
        '            gitlab_workflow: .gitlab-ci.yml',
      ]),
      7,
      13,
      /GitLab pipeline cube/,
    );
  });
  it('bad max_cube_duration', () => {
    expectError(
      y([
        'workflows:',
        '  w:',
        '    settings: {max_cube_duration: soon}',
        '    tasks: [{name: t, cubes: [{name: c, script: x}]}]',
      ]),
      3,
      35,
      /'soon' .* is not a duration/,
      /20m/,
    );
  });
  it('artifact path leaving the workspace', () => {
    expectError(
      y([
        'workflows:',
        '  w:',
        '    tasks:',
        '      - name: t',
        '        cubes:',
        '          - name: c',
        '            script: x',
        '            artifacts: {paths: [../secret]}',
      ]),
      8,
      33,
      /leaves the workspace/,
    );
  });
  it('trigger naming an unknown workflow', () => {
    expectError(
      y([
        'on:',
        '  push: [biuld]',
        'workflows:',
        '  build:',
        '    tasks: [{name: t, cubes: [{name: c, script: x}]}]',
      ]),
      2,
      10,
      /workflow 'biuld', which is not defined/,
      /did you mean 'build'/,
    );
  });
  it('bad cron', () => {
    expectError(
      y([
        'on:',
        '  schedule:',
        '    - {workflows: [w], cron: "every day"}',
        'workflows:',
        '  w:',
        '    tasks: [{name: t, cubes: [{name: c, script: x}]}]',
      ]),
      3,
      30,
      /not a 5-field cron/,
    );
  });
  it('no workflows at all', () => {
    expectError('env: {A: b}\n', 1, 1, /defines no workflows/);
  });
  it('an empty file', () => {
    expectError('', 1, 1, /empty/);
  });
  it('reports every error in one pass', () => {
    const found = errors(
      y([
        'workflows:',
        '  w:',
        '    tasks:',
        '      - name: t',
        '        cubes:',
        '          - {name: a, needs: [x], script: s}',
        '          - {name: b, allow_failure: 3, script: s}',
      ]),
    );
    assert.equal(found.length, 2, found.map(formatDiagnostic).join('\n'));
  });
});

describe('config validation warnings', () => {
  it('unknown keys are warnings with a suggestion, not silence', () => {
    const result = parseCiConfig(
      y([
        'workflows:',
        '  w:',
        '    tasks:',
        '      - name: t',
        '        cubes:',
        '          - name: c',
        '            scrpt: x',
        '            script: y',
      ]),
      'ci.yaml',
    );
    assert.ok(result.config);
    const w = result.diagnostics.find((d) => d.severity === 'warning');
    assert.equal(w?.message, "unknown key 'scrpt' in cube 'c'; it is ignored");
    assert.equal(w?.hint, "did you mean 'script'?");
    assert.deepEqual([w?.line, w?.column], [7, 13]);
  });
  it('workflow_dispatch gets a helpful warning', () => {
    const result = parseCiConfig(
      y([
        'on:',
        '  workflow_dispatch: {}',
        'workflows:',
        '  w:',
        '    tasks: [{name: t, cubes: [{name: c, script: x}]}]',
      ]),
      'ci.yaml',
    );
    assert.ok(result.config);
    assert.match(result.diagnostics[0]?.hint ?? '', /manual runs need no trigger/);
  });
});
