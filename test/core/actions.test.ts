import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseActionRef } from '../../src/core/actions/action-ref.js';
import {
  evaluateCondition,
  evaluateExpression,
  interpolate,
  type ExprContext,
} from '../../src/core/actions/expr.js';
import { parseActionMeta } from '../../src/core/actions/metadata.js';
import { CommandFilter, type CommandEvent } from '../../src/core/actions/workflow-commands.js';

const ctx = (status: ExprContext['status'] = 'success'): ExprContext => ({
  contexts: {
    inputs: { 'node-version': '20', flag: 'true', empty: '' },
    github: { event_name: 'push', ref: 'refs/heads/main', event: { commits: [{ id: 'a' }, { id: 'b' }] } },
    steps: { build: { outputs: { path: 'dist' }, outcome: 'success' } },
    env: { NAME: 'Conveyor' },
  },
  status,
  hashFiles: (patterns) => `hash(${patterns.join(',')})`,
});

describe('GitHub expressions', () => {
  const cases: [string, unknown][] = [
    ["inputs.node-version == '20'", true],
    ['inputs.node-version == 20', true],
    ["github.event_name == 'PUSH'", true], // strings compare ignoring case
    ["inputs.empty || 'default'", 'default'],
    ["inputs.flag == 'true' && 'yes' || 'no'", 'yes'],
    ["!startsWith(github.ref, 'refs/tags/')", true],
    ['contains(fromJSON(\'["a","b"]\'), \'B\')', true],
    ["format('{0}-{1} {{x}}', 'a', 1)", 'a-1 {x}'],
    ["join(github.event.commits.*.id, '+')", 'a+b'],
    ["steps.build.outputs['path']", 'dist'],
    ['steps.missing.outputs.path', null],
    ['1 < 2 && 2 <= 2 && 3 > 2 && !(1 >= 2)', true],
    ["'it''s'", "it's"],
    ['null == 0', true],
    ["hashFiles('**/package-lock.json')", 'hash(**/package-lock.json)'],
    ['toJSON(inputs.flag)', '"true"'],
  ];
  for (const [source, expected] of cases) {
    it(source, () => assert.deepEqual(evaluateExpression(source, ctx()), expected));
  }

  it('interpolates ${{ }} in text and rejects unknown contexts and functions', () => {
    assert.equal(interpolate('v${{ inputs.node-version }} for ${{ env.NAME }}', ctx()), 'v20 for Conveyor');
    assert.throws(() => interpolate('${{ secrets.X }}', ctx()), /unknown context 'secrets'/);
    assert.throws(() => evaluateExpression('nope()', ctx()), /unknown function/);
    assert.throws(() => evaluateExpression("'open", ctx()), /not closed/);
  });

  it('if: without a status function means success() && (...)', () => {
    assert.equal(evaluateCondition("inputs.flag == 'true'", ctx('failure'), 'success()'), false);
    assert.equal(
      evaluateCondition("${{ always() && inputs.flag == 'true' }}", ctx('failure'), 'success()'),
      true,
    );
    assert.equal(evaluateCondition(undefined, ctx('failure'), 'always()'), true);
    assert.equal(evaluateCondition('', ctx('failure'), 'success()'), false);
    assert.equal(evaluateCondition('failure()', ctx('failure'), 'success()'), true);
  });
});

describe('workflow commands', () => {
  function run(chunks: string[], debug = false): { log: string; events: CommandEvent[] } {
    const events: CommandEvent[] = [];
    const filter = new CommandFilter((e) => events.push(e), debug);
    const log = chunks.map((c) => filter.push(Buffer.from(c)).toString()).join('') + filter.end().toString();
    return { log, events };
  }

  it('acts on commands split across chunks and shows groups and annotations', () => {
    const { log, events } = run([
      'plain\n::add-ma',
      'sk::s3cr%0Aet\n  ::group::Build\nx\n::endgroup::\n',
      '::error file=src/a.ts,line=3,col=7,title=Lint::bad%2C really\n::debug::hidden\n',
      '::set-output name=out::v1\n::save-state name=s::1\n::warning::last',
    ]);
    assert.equal(
      log,
      'plain\n##[group]Build\nx\n##[endgroup]\n##[error]src/a.ts:3:7: Lint: bad%2C really\n' +
        '##[warning]The `set-output` command is deprecated; write to $GITHUB_OUTPUT instead\n##[warning]last\n',
    );
    assert.deepEqual(events, [
      { kind: 'mask', value: 's3cr\net' },
      { kind: 'annotation', level: 'error', message: 'bad%2C really', location: 'src/a.ts:3:7' },
      { kind: 'output', name: 'out', value: 'v1' },
      { kind: 'state', name: 's', value: '1' },
      { kind: 'annotation', level: 'warning', message: 'last' },
    ]);
  });

  it('passes a long line that is not a command on at once, and honours stop-commands', () => {
    const events: CommandEvent[] = [];
    const filter = new CommandFilter((e) => events.push(e));
    assert.equal(filter.push(Buffer.from('progress 10%')).toString(), 'progress 10%');
    assert.equal(
      filter.push(Buffer.from(' ::add-mask::not-a-command\n')).toString(),
      ' ::add-mask::not-a-command\n',
    );
    const stopped = filter.push(Buffer.from('::stop-commands::tok\n::add-mask::x\n::tok::\n::add-mask::y\n'));
    assert.equal(stopped.toString(), '::add-mask::x\n');
    assert.deepEqual(events, [{ kind: 'mask', value: 'y' }]);
    assert.match(run(['::set-env name=A::b\n']).log, /set-env` command is disabled/);
    assert.equal(run(['::debug::shown\n'], true).log, '##[debug]shown\n');
  });
});

describe('action.yml and action references', () => {
  it('parses node, composite and docker actions, and says what is wrong', () => {
    const node = parseActionMeta(
      'name: n\ninputs:\n  who: {default: world, required: true}\nruns: {using: node16, main: dist/index.js, post: dist/post.js}\n',
    );
    assert.deepEqual(node.inputs.who, { required: true, default: 'world' });
    assert.equal(node.runs.using, 'node');
    const composite = parseActionMeta(
      'runs:\n  using: composite\n  steps:\n    - run: echo hi\n      shell: bash\n    - uses: ./inner\n      with: {a: 1}\n',
    );
    assert.equal(composite.runs.using === 'composite' && composite.runs.steps[1]?.with.a, '1');
    const docker = parseActionMeta('runs: {using: docker, image: Dockerfile, args: ["${{ inputs.x }}"]}\n');
    assert.deepEqual(docker.runs.using === 'docker' && docker.runs.args, ['${{ inputs.x }}']);
    assert.throws(() => parseActionMeta('runs: {using: node99, main: x}\n'), /node99' is not supported/);
    assert.throws(() => parseActionMeta('runs: {using: composite, steps: [{run: x}]}\n'), /no shell/);
    assert.throws(() => parseActionMeta('name: x\n'), /no runs/);
  });

  it('parses references', () => {
    assert.deepEqual(parseActionRef('actions/setup-node@v4'), {
      kind: 'repo',
      owner: 'actions',
      repo: 'setup-node',
      path: '',
      ref: 'v4',
    });
    assert.deepEqual(parseActionRef('github/codeql-action/init@v3'), {
      kind: 'repo',
      owner: 'github',
      repo: 'codeql-action',
      path: 'init',
      ref: 'v3',
    });
    assert.deepEqual(parseActionRef('https://sourcecraft.dev/org/repo/sub@main'), {
      kind: 'repo',
      owner: 'org',
      repo: 'repo',
      path: 'sub',
      ref: 'main',
      url: 'https://sourcecraft.dev/org/repo',
    });
    assert.deepEqual(parseActionRef('./.github/actions/x'), { kind: 'local', path: '.github/actions/x' });
    assert.deepEqual(parseActionRef('docker://alpine:3'), { kind: 'docker', image: 'alpine:3' });
    assert.ok('error' in parseActionRef('owner@v1'));
    assert.ok('error' in parseActionRef('../x'));
    assert.ok('error' in parseActionRef('file:///srv/data/mirrors/other.git@main'), 'no local paths');
    assert.ok('error' in parseActionRef('ext::sh -c touch% /tmp/x@v1'));
  });
});
