import { scanExpressions } from '../core/config/expressions.js';
import type { RunRecord } from '../core/run/model.js';

/** Names of every secret a run's cubes refer to, so missing ones fail the run before it starts. */
export function referencedSecrets(run: RunRecord): Set<string> {
  const names = new Set<string>();
  const scan = (text: string): void => {
    if (!text.includes('${{')) return;
    for (const ref of scanExpressions(text).refs)
      if (ref.context === 'secrets' && ref.path[0]) names.add(ref.path[0]);
  };
  Object.values(run.context.env).forEach(scan);
  for (const workflow of run.workflows) {
    Object.values(workflow.spec.env).forEach(scan);
    for (const task of workflow.tasks) {
      Object.values(task.spec.env).forEach(scan);
      Object.values(task.spec.outputs).forEach(scan);
      for (const cube of task.cubes) {
        Object.values(cube.spec.env).forEach(scan);
        cube.spec.script?.forEach(scan);
        cube.spec.artifacts.forEach(scan);
        if (cube.spec.image)
          [cube.spec.image.name, cube.spec.image.username ?? '', cube.spec.image.password ?? ''].forEach(
            scan,
          );
      }
    }
  }
  return names;
}
