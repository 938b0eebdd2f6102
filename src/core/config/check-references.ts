import { ancestors, findCycle } from '../dag.js';
import { didYouMean, type DiagnosticBag } from './diagnostics.js';
import { scanExpressions, SUPPORTED_EXPRESSIONS, type ExprRef } from './expressions.js';
import type { CiConfig, CubeDef, ExprSite, TaskDef, WorkflowDef } from './model.js';
import { TOKEN_FIELDS } from './parse-tokens.js';

/** What a `${{ }}` may refer to at one place in the config. */
interface Scope {
  config: CiConfig;
  /** Every variable some `env:` of the config sets. */
  envNames: Set<string>;
  workflow?: WorkflowDef;
  task?: TaskDef;
  cube?: CubeDef;
}

/** Checks names, `needs`, cycles and expressions once the structure is decoded. */
export function checkReferences(config: CiConfig, bag: DiagnosticBag): void {
  const envNames = new Set(Object.keys(config.env));
  for (const w of config.workflows) {
    Object.keys(w.env).forEach((n) => envNames.add(n));
    for (const t of w.tasks) {
      Object.keys(t.env).forEach((n) => envNames.add(n));
      for (const c of t.cubes) Object.keys(c.env).forEach((n) => envNames.add(n));
    }
  }
  const top: Scope = { config, envNames };
  checkSites(config.sites, top, bag);
  for (const workflow of config.workflows) {
    checkSites(workflow.sites, { ...top, workflow }, bag);
    checkUnique(workflow.tasks, `workflow '${workflow.name}'`, 'task', bag);
    checkNeeds(workflow.tasks, `workflow '${workflow.name}'`, 'task', bag);
    for (const task of workflow.tasks) {
      checkSites(task.sites, { ...top, workflow, task }, bag);
      checkUnique(task.cubes, `task '${task.name}'`, 'cube', bag);
      checkNeeds(task.cubes, `task '${task.name}'`, 'cube', bag);
      for (const cube of task.cubes) checkSites(cube.sites, { ...top, workflow, task, cube }, bag);
    }
  }
}

type Named = { name: string; pos: CubeDef['pos']; needs: string[]; needsAt: CubeDef['needsAt'] };

function checkUnique(items: readonly Named[], where: string, kind: string, bag: DiagnosticBag): void {
  const seen = new Map<string, Named>();
  for (const item of items) {
    const first = seen.get(item.name);
    if (first) {
      bag.error(
        item.pos,
        `duplicate ${kind} name '${item.name}' in ${where}`,
        `the first one is at line ${first.pos.line}; ${kind} names must be unique`,
      );
    } else seen.set(item.name, item);
  }
}

function checkNeeds(items: readonly Named[], where: string, kind: string, bag: DiagnosticBag): void {
  const names = items.map((i) => i.name);
  for (const item of items) {
    item.needs.forEach((need, i) => {
      const pos = item.needsAt[i] ?? item.pos;
      if (need === item.name) bag.error(pos, `${kind} '${item.name}' needs itself`, 'remove it from needs');
      else if (!names.includes(need)) {
        bag.error(
          pos,
          `${kind} '${item.name}' needs '${need}', which is not a ${kind} in ${where}`,
          didYouMean(need, names) ?? `${kind}s here: ${names.join(', ')}`,
        );
      }
    });
  }
  const byName = new Map(items.map((i) => [i.name, i]));
  const cycle = findCycle(names, (n) => (byName.get(n)?.needs ?? []).filter((x) => x !== n));
  if (cycle) {
    const first = byName.get(cycle[0] ?? '');
    bag.error(
      first?.pos ?? { line: 1, column: 1 },
      `${kind}s in ${where} depend on each other in a cycle: ${cycle.join(' -> ')}`,
      'remove one of these needs so the order has a start',
    );
  }
}

function checkSites(sites: readonly ExprSite[], scope: Scope, bag: DiagnosticBag): void {
  for (const site of sites) {
    const { refs, errors } = scanExpressions(site.text);
    for (const error of errors) bag.error(site.at(error.offset), error.message, error.hint);
    for (const ref of refs) {
      const problem = checkRef(ref, scope);
      if (!problem) continue;
      if (problem.warning) bag.warning(site.at(ref.offset), problem.message, problem.hint);
      else bag.error(site.at(ref.offset), problem.message, problem.hint);
    }
  }
}

interface Problem {
  message: string;
  hint: string;
  /** Reported as a warning: the run goes on (the value is empty). */
  warning?: boolean;
}

function checkRef(ref: ExprRef, scope: Scope): Problem | undefined {
  const [first, second, third] = ref.path;
  const shape = (expected: string) => ({
    message: `malformed reference ${ref.raw}`,
    hint: `write it as ${expected}`,
  });
  switch (ref.context) {
    case 'secrets':
      return ref.path.length === 1 ? undefined : shape('${{ secrets.NAME }}');
    case 'inputs': {
      if (ref.path.length !== 1) return shape('${{ inputs.NAME }}');
      const inputs = scope.workflow?.inputs;
      if (!inputs || inputs.some((i) => i.name === first)) return undefined;
      return {
        message: `${ref.raw} names input '${first}', which workflow '${scope.workflow?.name}' does not declare`,
        hint:
          didYouMean(
            first ?? '',
            inputs.map((i) => i.name),
          ) ?? `declare it under workflows.${scope.workflow?.name}.inputs`,
      };
    }
    case 'cubes':
      if (ref.path.length !== 3 || second !== 'outputs') return shape('${{ cubes.CUBE.outputs.KEY }}');
      return checkCubeRef(ref, first ?? '', scope);
    case 'tasks':
      if (ref.path.length !== 3 || second !== 'outputs') return shape('${{ tasks.TASK.outputs.KEY }}');
      return checkTaskRef(ref, first ?? '', third ?? '', scope);
    case 'tokens':
      return checkTokenRef(ref, scope);
    case 'env':
      if (ref.path.length !== 1) return shape('${{ env.NAME }}');
      if (scope.envNames.has(first ?? '') || isPredefined(first ?? '')) return undefined;
      return {
        message: `${ref.raw}: no env: of this config sets '${first}'; it is empty unless an earlier cube writes it to $SOURCECRAFT_ENV`,
        hint:
          didYouMean(first ?? '', scope.envNames) ??
          'set it under env: of the config, workflow, task or cube',
        warning: true,
      };
    default:
      return {
        message: `unknown expression context '${ref.context}' in ${ref.raw}`,
        hint: `Conveyor supports ${SUPPORTED_EXPRESSIONS}`,
      };
  }
}

function isPredefined(name: string): boolean {
  return name === 'CI' || /^(SOURCECRAFT|CONVEYOR)_[A-Z0-9_]+$/.test(name);
}

function checkTokenRef(ref: ExprRef, scope: Scope): Problem | undefined {
  const [name = '', field = ''] = ref.path;
  if (ref.path.length !== 2) return { message: `malformed reference ${ref.raw}`, hint: TOKEN_SHAPE };
  const names = scope.config.tokens.map((t) => t.name);
  if (!names.includes(name))
    return {
      message: `${ref.raw} names token '${name}', which the top-level tokens: section does not declare`,
      hint:
        didYouMean(name, names) ??
        `declare it: tokens: {${name}: {service_connection: CONNECTION, scope: repo}}`,
    };
  if (!(TOKEN_FIELDS as readonly string[]).includes(field))
    return {
      message: `${ref.raw}: a token has no field '${field}'`,
      hint: didYouMean(field, TOKEN_FIELDS) ?? TOKEN_SHAPE,
    };
  return undefined;
}

const TOKEN_SHAPE = `write \${{ tokens.NAME.FIELD }} with FIELD one of ${TOKEN_FIELDS.join(', ')}`;

function checkCubeRef(
  ref: ExprRef,
  name: string,
  scope: Scope,
): { message: string; hint: string } | undefined {
  const task = scope.task;
  if (!task)
    return {
      message: `${ref.raw} is outside a task; cube outputs exist only inside the task that wrote them`,
      hint: 'use cube outputs in a cube or in task outputs',
    };
  const names = task.cubes.map((c) => c.name);
  if (!names.includes(name))
    return {
      message: `${ref.raw} names cube '${name}', which is not in task '${task.name}'`,
      hint:
        didYouMean(name, names) ??
        'cube outputs are visible only inside their task; export them with task outputs',
    };
  const cube = scope.cube;
  if (!cube) return undefined;
  if (name === cube.name)
    return {
      message: `cube '${cube.name}' reads its own outputs in ${ref.raw}`,
      hint: 'outputs are available to later cubes',
    };
  const byName = new Map(task.cubes.map((c) => [c.name, c]));
  if (!ancestors(cube.name, (n) => byName.get(n)?.needs ?? []).has(name)) {
    return {
      message: `cube '${cube.name}' reads outputs of cube '${name}' but does not run after it`,
      hint: `add '${name}' to the needs of cube '${cube.name}'`,
    };
  }
  return undefined;
}

function checkTaskRef(
  ref: ExprRef,
  name: string,
  key: string,
  scope: Scope,
): { message: string; hint: string } | undefined {
  const workflow = scope.workflow;
  const task = scope.task;
  if (!workflow || !task)
    return {
      message: `${ref.raw} is outside a task`,
      hint: 'task outputs can be read by tasks that need the producing task',
    };
  const byName = new Map(workflow.tasks.map((t) => [t.name, t]));
  const producer = byName.get(name);
  if (!producer)
    return {
      message: `${ref.raw} names task '${name}', which is not in workflow '${workflow.name}'`,
      hint: didYouMean(name, byName.keys()) ?? 'tasks are visible only inside their workflow',
    };
  if (!ancestors(task.name, (n) => byName.get(n)?.needs ?? []).has(name)) {
    return {
      message: `task '${task.name}' reads outputs of task '${name}' but does not need it`,
      hint: `add needs: [${name}] to task '${task.name}'`,
    };
  }
  if (!(key in producer.outputs)) {
    return {
      message: `task '${name}' declares no output '${key}'`,
      hint: didYouMean(key, Object.keys(producer.outputs)) ?? `add it under outputs: of task '${name}'`,
    };
  }
  return undefined;
}
