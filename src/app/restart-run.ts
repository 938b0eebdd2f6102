import type { RunRecord, UserRef, WorkflowRun } from '../core/run/model.js';
import { isTerminal, rollUp } from '../core/run/status.js';
import type { Repo } from '../ports/directory-store.js';
import { createRun, type RunServices } from './create-run.js';
import { conflict, invalid } from './errors.js';

/**
 * A new run (`event_type: restart`) of a finished run's workflows, at the same commit and inputs.
 * Scope `all` reruns everything. Scope `failed` reruns the tasks that did not succeed and every task
 * that needs them; tasks that succeeded are carried over as `success` with their outputs, so the
 * rerun tasks read the same values. The config is read at the original commit.
 */
export async function restartRun(
  services: RunServices,
  repo: Repo,
  original: RunRecord,
  scope: 'all' | 'failed',
  user: UserRef,
): Promise<RunRecord> {
  if (!isTerminal(original.status))
    throw conflict(`run ${original.slug} is still ${original.status}; cancel it or wait for it to end`);
  const head = original.context.commit;
  if (!head || original.workflows.length === 0)
    throw invalid(`run ${original.slug} has nothing to restart (it never got past reading its config)`);
  if (scope === 'failed' && original.status === 'success')
    throw conflict(`run ${original.slug} succeeded: nothing failed to rerun`);
  const workflows = original.workflows.map((w) => ({ name: w.slug, inputs: w.spec.inputs }));
  return createRun(
    services,
    repo,
    {
      eventType: 'restart',
      trigger: 'restart',
      head,
      configSha: head.sha,
      workflows,
      user,
      restartOf: original.slug,
      ...(original.context.baseSha ? { baseSha: original.context.baseSha } : {}),
      ...(original.context.pullSlug ? { pullSlug: original.context.pullSlug } : {}),
      ...(scope === 'failed'
        ? { adjust: (fresh: RunRecord) => carryOverSuccesses(original, fresh, services.clock.now()) }
        : {}),
    },
    true,
  );
}

function carryOverSuccesses(original: RunRecord, fresh: RunRecord, now: number): void {
  for (const workflow of fresh.workflows) {
    const before = original.workflows.find((w) => w.slug === workflow.slug);
    if (!before) continue;
    const rerun = tasksToRerun(before);
    for (const task of workflow.tasks) {
      const old = before.tasks.find((t) => t.slug === task.slug);
      if (!old || rerun.has(task.slug)) continue;
      task.status = 'success';
      task.outputs = { ...old.outputs };
      task.dates = { createdAt: now, startedAt: now, finishedAt: now, updatedAt: now };
      for (const cube of task.cubes) {
        const oldCube = old.cubes.find((c) => c.slug === cube.slug);
        cube.status = oldCube?.status ?? 'success';
        cube.outputs = { ...(oldCube?.outputs ?? {}) };
        cube.artifacts = oldCube?.artifacts ?? [];
        cube.errorMessage = `carried over from run ${original.slug}`;
        cube.dates = { createdAt: now, startedAt: now, finishedAt: now, updatedAt: now };
      }
    }
    const status = rollUp(workflow.tasks);
    if (isTerminal(status)) {
      workflow.status = status;
      workflow.dates = { ...workflow.dates, startedAt: now, finishedAt: now, updatedAt: now };
    }
  }
}

/** Tasks that did not succeed, and everything that (transitively) needs them. */
function tasksToRerun(workflow: WorkflowRun): Set<string> {
  const rerun = new Set(workflow.tasks.filter((t) => t.status !== 'success').map((t) => t.slug));
  let grew = true;
  while (grew) {
    grew = false;
    for (const task of workflow.tasks) {
      if (!rerun.has(task.slug) && task.needs.some((n) => rerun.has(n))) {
        rerun.add(task.slug);
        grew = true;
      }
    }
  }
  return rerun;
}
