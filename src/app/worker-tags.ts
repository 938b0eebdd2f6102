/**
 * SourceCraft's runtime tags. `self-hosted` is implicit on every worker (SourceCraft's rule).
 * `compute` and `serverless` name SourceCraft's cloud workers; here they mean "wherever this server
 * runs cubes itself", so they never send a task to an external worker (docs/workers.md).
 */
export const RUNTIME_TAGS = ['self-hosted', 'compute', 'serverless'] as const;

/** The tags a worker must have for a task: its runs_on without the runtime tags. */
export function requiredTags(runsOn: readonly string[]): string[] {
  return [...new Set(runsOn.filter((t) => !(RUNTIME_TAGS as readonly string[]).includes(t)))].sort();
}

/** Whether a task needs an external worker: its runs_on names a tag beyond the runtime tags. */
export function needsWorker(runsOn: readonly string[]): boolean {
  return requiredTags(runsOn).length > 0;
}
