import type { CubeRun, RunRecord, TaskRun, WorkflowRun } from '../core/run/model.js';
import { ConflictError } from '../ports/errors.js';
import type { RunChanges, RunStore } from '../ports/run-store.js';

/** How far the store may lag behind the engine; see RunChanges.schedule. */
const FLUSH_DELAY_MS = 20;

/** How long a batch of changes is retried while the store is unreachable, and how often. */
const PERSIST_RETRY_MS = 60_000;
const PERSIST_RETRY_EVERY_MS = 500;

/**
 * The nodes of a run the engine changed since its last write. Changes are written at most every
 * FLUSH_DELAY_MS, in one transaction: a burst of cubes ending costs one write, and the store is
 * never more than that behind what the engine knows. Writes are chained, never concurrent. A write
 * the store could not take (PostgreSQL restarting) is retried for up to PERSIST_RETRY_MS, so the run
 * goes on after the outage; a conflict is not retried.
 */
export class PendingChanges {
  private run = false;
  private readonly workflows = new Set<WorkflowRun>();
  private readonly tasks = new Set<TaskRun>();
  private readonly cubes = new Set<CubeRun>();
  private timer: NodeJS.Timeout | undefined;
  private chain: Promise<void> = Promise.resolve();
  /** The first write that failed (or another error the engine recorded); execute() throws it. */
  error: unknown;

  constructor(
    private readonly store: Pick<RunStore, 'applyChanges'>,
    private readonly record: RunRecord,
  ) {}

  markRun(): void {
    this.run = true;
  }
  markWorkflow(workflow: WorkflowRun): void {
    this.workflows.add(workflow);
  }
  markTask(task: TaskRun): void {
    this.tasks.add(task);
  }
  markCube(cube: CubeRun): void {
    this.cubes.add(cube);
  }

  schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => this.flush(), FLUSH_DELAY_MS);
  }

  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const changes: RunChanges = {
      ...(this.run ? { run: this.record } : {}),
      workflows: [...this.workflows],
      tasks: [...this.tasks],
      cubes: [...this.cubes],
    };
    this.run = false;
    this.workflows.clear();
    this.tasks.clear();
    this.cubes.clear();
    this.chain = this.chain
      .then(() => this.persist(changes))
      .catch((error: unknown) => {
        this.error ??= error;
      });
  }

  private async persist(changes: RunChanges): Promise<void> {
    const deadline = Date.now() + PERSIST_RETRY_MS;
    for (;;) {
      try {
        await this.store.applyChanges(changes);
        return;
      } catch (error) {
        if (error instanceof ConflictError || Date.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, PERSIST_RETRY_EVERY_MS));
      }
    }
  }

  /** Writes what is left and waits for every write. */
  async settle(): Promise<void> {
    this.flush();
    await this.chain;
  }
}
