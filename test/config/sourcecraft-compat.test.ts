import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfigFile } from '../../src/app/load-config.js';
import { formatDiagnostic, type Diagnostic } from '../../src/core/config/diagnostics.js';
import { parseCiConfig } from '../../src/core/config/parse-config.js';

const y = (lines: string[]) => lines.join('\n') + '\n';

function parse(yaml: string) {
  return parseCiConfig(yaml, '.sourcecraft/ci.yaml');
}

function find(list: Diagnostic[], severity: Diagnostic['severity'], message: RegExp): Diagnostic {
  const match = list.find((d) => d.severity === severity && message.test(d.message));
  assert.ok(match, `no ${severity} matching ${message}; got:\n${list.map(formatDiagnostic).join('\n')}`);
  return match;
}

function at(d: Diagnostic): [number, number] {
  return [d.line, d.column];
}

const cube = (extra: string[]) =>
  y([
    'workflows:',
    '  w:',
    '    tasks:',
    '      - name: t',
    '        cubes:',
    '          - name: c',
    ...extra,
  ]);

describe('tokens: (service connections)', () => {
  it('are read with their connection and scope', () => {
    const result = parse(
      y([
        'tokens:',
        '  SC:',
        '    service_connection: default-service-connection',
        '    scope: org',
        'workflows:',
        '  w:',
        '    tasks:',
        '      - name: t',
        '        cubes:',
        '          - name: c',
        '            env:',
        '              ID_TOKEN: ${{ tokens.SC.id_token }}',
        '              SA: ${{ tokens.SC.service_account_id }}',
        '            script:',
        '              - echo "${{ tokens.SC.folder_id }}"',
      ]),
    );
    assert.deepEqual(result.diagnostics, []);
    assert.deepEqual(
      result.config?.tokens.map((t) => [t.name, t.serviceConnection, t.scope]),
      [['SC', 'default-service-connection', 'org']],
    );
  });

  it('an unknown scope is an error at the value; a missing one is repo, with a warning', () => {
    const bad = parse(y(['tokens:', '  A:', '    service_connection: c', '    scope: api', 'workflows: {}']));
    assert.deepEqual(
      at(find(bad.diagnostics, 'error', /scope 'api' of token 'A' is not org, repo or ref/)),
      [4, 12],
    );
    const none = parse(
      y([
        'tokens:',
        '  A:',
        '    service_connection: c',
        'workflows:',
        '  w: {tasks: [{name: t, cubes: [{name: c, script: x}]}]}',
      ]),
    );
    assert.deepEqual(at(find(none.diagnostics, 'warning', /has no scope; it is 'repo'/)), [2, 3]);
    assert.equal(none.config?.tokens[0]?.scope, 'repo');
  });

  it('a reference to an undeclared token or field is an error where it is written', () => {
    const result = parse(
      cube([
        '            env:',
        '              A: ${{ tokens.SCC.id_token }}',
        '              B: ${{ tokens.SC.idtoken }}',
      ]).replace('workflows:', 'tokens:\n  SC: {service_connection: c, scope: repo}\nworkflows:'),
    );
    assert.deepEqual(at(find(result.diagnostics, 'error', /names token 'SCC'/)), [10, 18]);
    const field = find(result.diagnostics, 'error', /a token has no field 'idtoken'/);
    assert.match(field.hint ?? '', /id_token/);
  });
});

describe('${{ env.NAME }}', () => {
  it('is accepted where the config sets the name, and for predefined variables', () => {
    const result = parse(
      y([
        'env: {GREETING: hi}',
        'workflows:',
        '  w:',
        '    tasks:',
        '      - name: t',
        '        cubes:',
        '          - name: c',
        '            env: {X: "${{ env.GREETING }}"}',
        '            script:',
        '              - echo "${{ env.SOURCECRAFT_COMMIT_SHA }} ${{ env.X }}"',
      ]),
    );
    assert.deepEqual(result.diagnostics, []);
  });

  it('warns (does not fail) when no env: sets the name', () => {
    const result = parse(
      cube(['            script:', '              - echo "${{ env.GREETNG }}"']).replace(
        'workflows:',
        'env: {GREETING: hi}\nworkflows:',
      ),
    );
    assert.ok(result.config, 'still valid');
    const warning = find(result.diagnostics, 'warning', /no env: of this config sets 'GREETNG'/);
    assert.match(warning.hint ?? '', /GREETING/);
  });
});

describe('action: cubes (GitHub Actions)', () => {
  it('an action cube needs no script or image', () => {
    const result = parse(
      cube([
        '            action: actions/setup-node@v4',
        '            with:',
        '              node-version: 20',
      ]),
    );
    assert.deepEqual(result.diagnostics.map(formatDiagnostic), []);
    const c = result.config?.workflows[0]?.tasks[0]?.cubes[0];
    assert.equal(c?.action, 'actions/setup-node@v4');
    assert.deepEqual(c?.with, { 'node-version': '20' });
  });

  it('a reference without @ref, or with a path leaving the repository, is an error at the value', () => {
    const noRef = parse(cube(['            action: actions/setup-node']));
    assert.deepEqual(at(find(noRef.diagnostics, 'error', /has no @ref/)), [7, 21]);
    assert.equal(noRef.diagnostics.filter((d) => /neither script nor image/.test(d.message)).length, 0);
    const climbing = parse(cube(['            action: owner/repo/../x@v1']));
    find(climbing.diagnostics, 'error', /leaves the action's repository/);
  });

  it('script or image beside action: is an error; with: without action: a warning', () => {
    find(
      parse(cube(['            action: a/b@v1', '            script: [x]'])).diagnostics,
      'error',
      /both action: and script:/,
    );
    find(
      parse(cube(['            script: [x]', '            with: {a: b}'])).diagnostics,
      'warning',
      /with: but no action:/,
    );
  });

  it('top-level cubes may be actions, used by name', () => {
    const result = parse(
      y([
        'cubes:',
        '  - name: setup',
        '    action: actions/setup-node@v4',
        '    with: {node-version: "20"}',
        'workflows:',
        '  w: {tasks: [{name: t, cubes: [{uses: setup}, {name: after, script: [node -v]}]}]}',
      ]),
    );
    assert.deepEqual(result.diagnostics, []);
    assert.equal(result.config?.workflows[0]?.tasks[0]?.cubes[0]?.action, 'actions/setup-node@v4');
  });
});

describe('the validation messages the corpus asked for', () => {
  it('a cube if: warns that the cube will always run', () => {
    const result = parse(
      cube(['            if: env.SOURCECRAFT_EVENT == "push"', '            script: [deploy]']),
    );
    assert.ok(result.config);
    const warning = find(
      result.diagnostics,
      'warning',
      /has `if:`, which SourceCraft does not have: the cube will always run/,
    );
    assert.deepEqual(at(warning), [7, 13]);
    assert.equal(result.diagnostics.filter((d) => /unknown key 'if'/.test(d.message)).length, 0);
  });

  it('more workflows per event than SourceCraft runs (3) is a warning at the trigger', () => {
    const wf = (n: string) => `  ${n}: {tasks: [{name: t, cubes: [{name: c, script: x}]}]}`;
    const result = parse(
      y([
        'on:',
        '  push:',
        '    - workflows: [a, b]',
        '      filter: {branches: [main]}',
        '    - workflows: [c, d]',
        '    - workflows: [e]',
        '      filter: {tags: ["v*"]}',
        '  pull_request:',
        '    - workflows: [a, b, c]',
        'workflows:',
        ...['a', 'b', 'c', 'd', 'e'].map(wf),
      ]),
    );
    const warnings = result.diagnostics.filter((d) => /SourceCraft runs at most 3/.test(d.message));
    assert.equal(warnings.length, 1, warnings.map(formatDiagnostic).join('\n'));
    assert.match(warnings[0]?.message ?? '', /a push to a branch starts 4 workflows \(a, b, c, d\)/);
    assert.deepEqual(at(warnings[0] as Diagnostic), [2, 3]);
    const noOn = parse(y(['workflows:', ...['a', 'b', 'c', 'd'].map(wf)]));
    assert.match(find(noOn.diagnostics, 'warning', /starts 4 workflows/).hint ?? '', /without on:/);
  });

  it('a second YAML document gets a plain message at its ---', () => {
    const result = parse(y(['workflows:', '  w:', '    tasks: []', '---', 'steps: []']));
    const error = find(result.diagnostics, 'error', /a second YAML document starts here/);
    assert.deepEqual(at(error), [4, 1]);
    assert.doesNotMatch(error.message, /parseAllDocuments/);
  });

  it('.src.ci.yaml gets a deprecation warning first', () => {
    const result = parseConfigFile(cube(['            script: [x]']), '.src.ci.yaml');
    assert.ok(result.config);
    assert.match(
      result.diagnostics[0]?.message ?? '',
      /\.src\.ci\.yaml is SourceCraft's deprecated config file/,
    );
    assert.deepEqual(
      parseConfigFile(cube(['            script: [x]']), '.sourcecraft/ci.yaml').diagnostics,
      [],
    );
  });
});
