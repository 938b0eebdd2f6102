import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCiConfig } from '../../src/core/config/parse-config.js';
import { planRun, resolveInputs } from '../../src/core/run/plan.js';
import { progressOf } from '../../src/core/run/progress.js';

describe('inputs', () => {
  const defs = [
    { name: 'NAME', type: 'string' as const, required: true },
    { name: 'N', type: 'number' as const, required: false, default: '3' },
    { name: 'FLAG', type: 'boolean' as const, required: false },
  ];
  it('applies defaults', () =>
    assert.deepEqual(resolveInputs(defs, { NAME: 'x' }), {
      values: { NAME: 'x', N: '3', FLAG: '' },
      errors: [],
    }));
  it('names every problem', () => {
    assert.deepEqual(resolveInputs(defs, { N: 'many', FLAG: 'maybe', OTHER: '1' }).errors, [
      "unknown input 'OTHER' (declared: NAME, N, FLAG)",
      "missing required input 'NAME'",
      "input 'N' must be a number, got 'many'",
      "input 'FLAG' must be true or false, got 'maybe'",
    ]);
  });
});

describe('planning a run', () => {
  const config = parseCiConfig(
    'workflows:\n  a:\n    tasks: [{name: t, cubes: [{name: c, script: x}, {name: d, script: y}]}]\n  b:\n    tasks: [{name: t, cubes: [{name: c, script: x}]}]\n',
    'ci.yaml',
  ).config;
  let n = 0;
  const base = {
    repoId: 'r',
    eventType: 'manual' as const,
    context: { configFile: 'ci.yaml' },
    now: 1000,
    newId: () => `id-${n++}`,
  };
  it('materializes the tree as prepared with created children', () => {
    assert.ok(config);
    const { run, errors } = planRun(config, { ...base, workflows: [{ name: 'a', inputs: {} }] });
    assert.deepEqual(errors, []);
    assert.equal(run?.status, 'prepared');
    assert.deepEqual(
      run?.workflows.map((w) => [w.slug, w.status, w.tasks.map((t) => t.cubes.map((c) => c.status))]),
      [['a', 'created', [['created', 'created']]]],
    );
    const cubes = run?.workflows[0]?.tasks[0]?.cubes ?? [];
    assert.deepEqual(progressOf(cubes), { percent: 0 });
  });
  it('rejects unknown workflows, naming the defined ones', () => {
    assert.ok(config);
    assert.deepEqual(planRun(config, { ...base, workflows: [{ name: 'zzz', inputs: {} }] }).errors, [
      { workflow: 'zzz', message: "unknown workflow 'zzz' (defined: a, b)" },
    ]);
  });
  it('progress is the fraction of finished cubes, with a running one', () => {
    assert.ok(config);
    const cubes =
      planRun(config, { ...base, workflows: [{ name: 'a', inputs: {} }] }).run?.workflows[0]?.tasks[0]
        ?.cubes ?? [];
    const [first, second] = cubes;
    assert.ok(first && second);
    first.status = 'success';
    second.status = 'processing';
    assert.deepEqual(progressOf(cubes), { percent: 0.5, currentCube: second });
  });
});
