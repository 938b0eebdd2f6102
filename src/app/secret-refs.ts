import { scanExpressions } from '../core/config/expressions.js';
import type { RunRecord } from '../core/run/model.js';

/** Every config text of a run that may hold `${{ }}` references. */
function runTexts(run: RunRecord): string[] {
  const texts = [...Object.values(run.context.env)];
  for (const workflow of run.workflows) {
    texts.push(...Object.values(workflow.spec.env));
    for (const task of workflow.tasks) {
      texts.push(...Object.values(task.spec.env), ...Object.values(task.spec.outputs));
      for (const cube of task.cubes) {
        const { spec } = cube;
        texts.push(...Object.values(spec.env), ...(spec.script ?? []), ...spec.artifacts);
        texts.push(...Object.values(spec.with ?? {}));
        if (spec.image) texts.push(spec.image.name, spec.image.username ?? '', spec.image.password ?? '');
      }
    }
  }
  return texts;
}

/** Names a run's config refers to in one context (`secrets`, `tokens`), so missing ones fail the run before it starts. */
export function referencedNames(run: RunRecord, context: 'secrets' | 'tokens'): Set<string> {
  const names = new Set<string>();
  for (const text of runTexts(run)) {
    if (!text.includes('${{')) continue;
    for (const ref of scanExpressions(text).refs)
      if (ref.context === context && ref.path[0]) names.add(ref.path[0]);
  }
  return names;
}

/** Names of every secret a run's cubes refer to. */
export function referencedSecrets(run: RunRecord): Set<string> {
  return referencedNames(run, 'secrets');
}
