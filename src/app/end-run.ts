import type { RunRecord } from '../core/run/model.js';
import { isTerminal, nextCubeStatus, rollUp } from '../core/run/status.js';
import type { RunStore } from '../ports/run-store.js';

/**
 * Ends a run that no engine is executing (queued, or abandoned by a server that died): every
 * unfinished cube is canceled with `reason`, statuses roll up, and the reason joins
 * `error_messages`. One transaction; a ConflictError means someone else changed the run first.
 */
export async function endRunWithoutEngine(
  store: RunStore,
  run: RunRecord,
  reason: string,
  now: number,
): Promise<RunRecord> {
  const touched = {
    workflows: new Set<RunRecord['workflows'][number]>(),
    tasks: new Set<RunRecord['workflows'][number]['tasks'][number]>(),
  };
  const cubes = [];
  for (const workflow of run.workflows) {
    for (const task of workflow.tasks) {
      for (const cube of task.cubes) {
        if (isTerminal(cube.status)) continue;
        if (cube.status === 'processing') cube.errorMessage = reason;
        cube.status = nextCubeStatus(cube.status, { type: 'cancel' });
        cube.dates.finishedAt = now;
        cube.dates.updatedAt = now;
        cubes.push(cube);
        touched.tasks.add(task);
        touched.workflows.add(workflow);
      }
    }
  }
  for (const node of [...touched.tasks, ...touched.workflows]) {
    const status = rollUp('cubes' in node ? node.cubes : node.tasks);
    node.status = status;
    node.dates.updatedAt = now;
    if (isTerminal(status)) node.dates.finishedAt = now;
  }
  const status = run.workflows.length > 0 ? rollUp(run.workflows) : 'canceled';
  run.status = isTerminal(status) ? status : 'canceled';
  run.errorMessages.push(reason);
  run.dates.finishedAt = now;
  run.dates.updatedAt = now;
  await store.applyChanges({ run, workflows: [...touched.workflows], tasks: [...touched.tasks], cubes });
  return run;
}
