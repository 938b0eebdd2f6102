import type { Kysely } from 'kysely';
import { LocalNotifier } from '../store/local-notifier.js';
import { runSecrets } from '../app/run-secrets.js';
import type { SecretBox } from '../app/secret-box.js';
import { TaskDispatch } from '../app/task-dispatch.js';
import { OffsetLogAppender } from '../app/task-logs.js';
import { WorkerHub } from '../app/worker-hub.js';
import type { ArtifactStore } from '../ports/artifact-store.js';
import type { Clock } from '../ports/clock.js';
import type { DirectoryStore } from '../ports/directory-store.js';
import type { LogStore } from '../ports/log-store.js';
import type { Notifier } from '../ports/notifier.js';
import { PgNotifier } from '../store/pg-notifier.js';
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
 * Wake-ups between the server's parts and between replicas: LISTEN/NOTIFY on PostgreSQL, in
 * process on SQLite (one server).
 */
export async function openNotifier(db: Kysely<Database>, config: ServerConfig): Promise<Notifier> {
  const url = config.databaseUrl ?? '';
  if (!/^postgres(ql)?:\/\//.test(url)) return new LocalNotifier();
  const notifier = new PgNotifier(url, db as Kysely<unknown>, config.log);
  await notifier.start();
  return notifier;
}

/**
 * The worker side of the server: tokens, registered workers, the task queue with its leases
 * (CONVEYOR_WORKER_LEASE_MS, default 15 s), retries (CONVEYOR_WORKER_ATTEMPTS, default 2: one retry)
 * the queue timeout (CONVEYOR_WORKER_QUEUE_TIMEOUT_MS, default 30 min) and how often a held poll
 * looks at the queue without a wake-up (CONVEYOR_WORKER_POLL_BACKSTOP_MS, default 2 s).
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
    directory: DirectoryStore;
    box: SecretBox;
    notifier: Notifier;
    /** The worker died with this server's previous life (one of its embedded workers). */
    diedWithServer(workerName: string): boolean;
  },
): WorkerHub {
  const env = o.config.env;
  const store = new SqlWorkerStore(db, /^postgres(ql)?:\/\//.test(o.config.databaseUrl ?? ''));
  const dispatch = new TaskDispatch({
    store,
    logs: o.logs,
    artifacts: (repoId) => o.artifacts(repoId),
    clock: o.clock,
    leaseMs: ms(env, 'CONVEYOR_WORKER_LEASE_MS', 15_000),
    maxAttempts: Math.max(1, Math.floor(ms(env, 'CONVEYOR_WORKER_ATTEMPTS', 2))),
    queueTimeoutMs: ms(env, 'CONVEYOR_WORKER_QUEUE_TIMEOUT_MS', 30 * 60_000),
    pollBackstopMs: ms(env, 'CONVEYOR_WORKER_POLL_BACKSTOP_MS', 2000),
    everyTask: o.everyTask,
    log: o.config.log,
    notifier: o.notifier,
    diedWithServer: (name) => o.diedWithServer(name),
    secrets: async (run) => {
      const repo = await o.directory.findRepoById(run.repoId);
      if (!repo) throw new Error('the repository was deleted');
      return runSecrets(o.directory, o.box, repo, run.context.environmentId);
    },
    prepare: async (run) => {
      const sha = run.context.commit?.sha;
      if (!sha) return;
      const repo = await o.directory.findRepoById(run.repoId);
      if (!repo) throw new Error('the repository was deleted');
      await o.mirrors.ensureCommit(repo.id, repo.cloneUrl, sha);
    },
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
