import type { CheckoutDef } from '../core/config/model.js';

export interface TaskDirs {
  /** The task directory ($SOURCECRAFT_ROOT_DIRECTORY; /sourcecraft in containers). */
  root: string;
  /** The checkout ($SOURCECRAFT_WORKSPACE), inside root. */
  workspace: string;
  /** Helper files of the task: scripts, env and output files ($SOURCECRAFT_TASK_DATA), inside root. */
  data: string;
}

/**
 * Gives each task its own directory with a checkout of the repository.
 *
 * Contract: `prepare` creates fresh directories for the task (never shared between tasks) and
 * throws an Error whose message says what failed; `release` removes them unless kept for inspection.
 */
export interface WorkspaceProvider {
  prepare(runId: string, taskKey: string, checkout: CheckoutDef): Promise<TaskDirs>;
  release(dirs: TaskDirs): Promise<void>;
}
