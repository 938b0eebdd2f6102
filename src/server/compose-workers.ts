import type { Kysely } from 'kysely';
import { TaskDispatch } from '../app/task-dispatch.js';
import { OffsetLogAppender } from '../app/task-logs.js';
import { WorkerHub } from '../app/worker-hub.js';
import type { ArtifactStore } from '../ports/artifact-store.js';
import type { Clock } from '../ports/clock.js';
import type { LogStore } from '../ports/log-store.js';
import type { Database } from '../store/schema.js';
import { SqlWorkerStore } from '../store/sql-worker-store.js';
import type { GitMirrors } from '../workspace/git-mirrors.js';
import type { ServerConfig } from './compose.js';

/** Reads a positive number of milliseconds from the environment. */
function ms(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const value = Number(env[name]);
  return Number.isFinite(value) && value > 0 ? value : fallback;
}

/**
 * The worker side of the server: tokens, registered workers, the task queue with its leases
 * (CONVEYOR_WORKER_LEASE_MS, default 15 s), retries (CONVEYOR_WORKER_ATTEMPTS, default 2: one retry)
 * and the queue timeout (CONVEYOR_WORKER_QUEUE_TIMEOUT_MS, default 30 min).
 */
export function composeWorkers(
  db: Kysely<Database>,
  o: {
    config: ServerConfig;
    clock: Clock;
    logs: LogStore;
    mirrors: GitMirrors;
    artifacts(repoId: string): ArtifactStore;
    /** Every task goes to workers (embedded ones take those with no worker tag). */
    everyTask: boolean;
  },
): WorkerHub {
  const env = o.config.env;
  const store = new SqlWorkerStore(db);
  const dispatch = new TaskDispatch({
    store,
    logs: o.logs,
    artifacts: (repoId) => o.artifacts(repoId),
    clock: o.clock,
    leaseMs: ms(env, 'CONVEYOR_WORKER_LEASE_MS', 15_000),
    maxAttempts: Math.max(1, Math.floor(ms(env, 'CONVEYOR_WORKER_ATTEMPTS', 2))),
    queueTimeoutMs: ms(env, 'CONVEYOR_WORKER_QUEUE_TIMEOUT_MS', 30 * 60_000),
    everyTask: o.everyTask,
    log: o.config.log,
  });
  const gone = Number(env.CONVEYOR_WORKER_GONE_MS ?? 1500);
  return new WorkerHub(
    store,
    o.clock,
    dispatch,
    new OffsetLogAppender(o.logs),
    (id) => o.mirrors.path(id),
    Number.isFinite(gone) && gone >= 0 ? gone : 1500,
  );
}
