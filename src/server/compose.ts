import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { availableParallelism, hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { sql, type Kysely } from 'kysely';
import { Access } from '../app/access.js';
import type { RunServices } from '../app/create-run.js';
import { RunDispatcher } from '../app/run-dispatcher.js';
import { RunEvents } from '../app/run-events.js';
import { LiveViews } from '../app/live-views.js';
import { hashToken, loadSecretBox } from '../app/secret-box.js';
import { TriggerLoop } from '../app/trigger-loop.js';
import { BlobArtifactStore, artifactPrefix } from '../artifacts/blob-artifact-store.js';
import { openBlobStore } from '../blob/open-blob-store.js';
import { actionDeps } from './compose-actions.js';
import { localExecutors } from '../executors/detect-runtime.js';
import { lockDataDir, serverSandbox, workRoot } from '../executors/cube-sandbox.js';
import { FileLogStore } from '../logs/file-log-store.js';
import { SharedLogStore } from '../logs/shared-log-store.js';
import { SqlLogChunkStore } from '../store/sql-log-chunk-store.js';
import { compactingLogs } from '../app/compacting-logs.js';
import { systemClock, type Clock } from '../ports/clock.js';
import type { DirectoryStore } from '../ports/directory-store.js';
import { openPostgresDb } from '../store/postgres.js';
import { PgAdvisoryLock, TRIGGER_LOCK_KEY } from '../store/pg-advisory-lock.js';
import type { Database } from '../store/schema.js';
import { SqlDirectoryStore } from '../store/sql-directory-store.js';
import { SqlIdentityStore } from '../store/sql-identity-store.js';
import { findConnection, OidcIssuer, oidcOptions, tokenMinter } from '../app/id-tokens.js';
import { SqlRunStore } from '../store/sql-run-store.js';
import { composeWorkers, openNotifier } from './compose-workers.js';
import { EmbeddedWorkers } from './embedded-workers.js';
import { openSqliteDb } from '../store/sqlite.js';
import { GitMirrors } from '../workspace/git-mirrors.js';
import type { ServerContext } from './context.js';
import { BODY_MAX_AGE_MS, RunView } from './run-view.js';
import { composeDeployments } from './compose-deployments.js';
import { RELEASE_DIR_IN_WORKSPACE } from '../app/deploy-engine.js';
import type { OperatorLog } from './operator-log.js';
import { SqlSessionStore } from '../store/sql-session-store.js';
import { UiSessions } from './ui/sessions.js';
import { findUiDir } from './ui/ui-assets.js';

export interface ServerConfig {
  host: string;
  port: number;
  dataDir: string;
  /** postgres://... for PostgreSQL; empty for the embedded SQLite file in the data dir. */
  databaseUrl?: string;
  /** file:///dir or s3://bucket/prefix?… for artifacts (src/blob/open-blob-store.ts); default the data dir. */
  blobStore?: string;
  /** Where the server is reached from outside, for links; default http://host:port. */
  publicUrl?: string;
  /** Runs executing at once. */
  concurrency?: number;
  /** Cubes running at once inside one run (inside one task on an embedded worker). */
  parallelism?: number;
  /**
   * `conveyor worker` child processes that run this server's tasks (docs/workers.md); 0 (the
   * default for now): none, and tasks that name no worker tag run in the server's process.
   */
  embeddedWorkers?: number;
  triggerTickMs?: number;
  leaseMs?: number;
  dispatchPollMs?: number;
  /** Replica name in run claims; stable across restarts so a restart ends its own orphans at once. */
  replicaId?: string;
  /** How long signed artifact links stay valid (default 15 minutes). */
  artifactUrlTtlMs?: number;
  /** Tests move time by hand; everything else uses the system clock. */
  clock?: Clock;
  env: NodeJS.ProcessEnv;
  log: (message: string) => void;
  /** Lines for the operator: runs started and ended, pushes skipped, webhooks, workers. */
  ops?: OperatorLog;
}

/** Opens the configured database: PostgreSQL for a postgres:// URL, else SQLite in the data dir. */
export async function openDatabase(
  config: Pick<ServerConfig, 'dataDir' | 'databaseUrl'>,
): Promise<Kysely<Database>> {
  const url = config.databaseUrl ?? '';
  if (/^postgres(ql)?:\/\//.test(url)) return openPostgresDb(url);
  if (url !== '' && !url.startsWith('sqlite:'))
    throw new Error(
      `unsupported database URL '${url}': use postgres://user@host/db, sqlite:/path/file.db, or none for the data dir`,
    );
  return openSqliteDb(
    url.startsWith('sqlite:') ? url.slice('sqlite:'.length) : join(resolve(config.dataDir), 'conveyor.db'),
  );
}

/** First start: CONVEYOR_ADMIN_TOKEN creates the administrator `admin` authenticated by it. */
export async function bootstrapAdmin(
  directory: DirectoryStore,
  env: NodeJS.ProcessEnv,
  log: (m: string) => void,
): Promise<void> {
  if ((await directory.countUsers()) > 0) return;
  const token = env.CONVEYOR_ADMIN_TOKEN;
  if (!token) {
    log(
      'no users yet: create the first administrator with\n  conveyor admin create-user --data-dir DIR --slug admin --email you@example.com --admin\n(or start the server once with CONVEYOR_ADMIN_TOKEN=<token> in the environment)',
    );
    return;
  }
  if (token.length < 16) throw new Error('CONVEYOR_ADMIN_TOKEN must be at least 16 characters');
  const now = Date.now();
  const id = randomUUID();
  await directory.insertUser({
    id,
    slug: 'admin',
    email: 'admin@localhost',
    firstName: '',
    lastName: '',
    admin: true,
    createdAt: now,
  });
  await directory.insertToken(
    { id: randomUUID(), userId: id, note: 'CONVEYOR_ADMIN_TOKEN', createdAt: now },
    hashToken(token),
  );
  log('created the administrator "admin", authenticated by CONVEYOR_ADMIN_TOKEN');
}

export { loadSecretBox };

export interface Composed {
  ctx: ServerContext;
  /** Starts the background parts: the run dispatcher, embedded workers (talking to `listenUrl`), triggers. */
  start(listenUrl?: string): Promise<void>;
  /**
   * Stops taking work, lets runs finish for `graceMs` (workers keep reporting over HTTP), records
   * the rest, stops the embedded workers, then `closeHttp`, then closes the database.
   */
  stop(graceMs: number, closeHttp?: () => Promise<void>): Promise<void>;
}

/** Wires the server's adapters and use cases. */
export async function composeServer(config: ServerConfig, baseUrl: () => string): Promise<Composed> {
  const dataDir = resolve(config.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const clock = config.clock ?? systemClock;
  const db = await openDatabase(config);
  const box = loadSecretBox(dataDir, config.env);
  const runs = new SqlRunStore(db);
  const directory = new SqlDirectoryStore(db, box);
  await directory.sealStoredCredentials();
  await bootstrapAdmin(directory, config.env, config.log);
  const { sandbox, warning } = serverSandbox(config.env);
  if (warning) config.log(warning);
  lockDataDir(dataDir);
  const work = workRoot(dataDir, sandbox);
  const mirrors = new GitMirrors(join(dataDir, 'mirrors'), work, !sandbox.user);
  const artifactsDir = (repoId: string) => join(dataDir, artifactPrefix(repoId));
  const blobs = await openBlobStore(config.blobStore, dataDir, config.env);
  if (!config.blobStore && /^postgres(ql)?:\/\//.test(config.databaseUrl ?? ''))
    config.log('no --blob-store: ended logs and artifacts stay in this data dir, unseen by other replicas');
  // Logs every replica reads: rows while live, an object once the cube ends; files before that.
  const legacy = new FileLogStore(join(dataDir, 'logs'));
  const logs = new SharedLogStore({ chunks: new SqlLogChunkStore(db), blobs, legacy });
  const compactLog = (runId: string, cubeId: string): void =>
    void logs
      .compact(runId, cubeId)
      .catch((error: unknown) => config.log(`log of cube ${cubeId} not compacted yet: ${String(error)}`));
  // Uploads from workers fail at once when the store is down (503: the worker retries); cubes
  // running here retry themselves, since nothing else would (CONVEYOR_BLOB_RETRY_MS, default 10 min).
  const artifacts = (repoId: string) => new BlobArtifactStore(blobs, artifactPrefix(repoId));
  const retryForMs = Number(config.env.CONVEYOR_BLOB_RETRY_MS ?? 600_000);
  const retrying = (repoId: string) =>
    new BlobArtifactStore(blobs, artifactPrefix(repoId), { retryForMs, log: config.log });
  const { images, ...executors } = localExecutors(config.env, undefined, sandbox);
  const actions = actionDeps(config.env, join(dataDir, 'actions'), images);
  const backstop = Number(config.env.CONVEYOR_STREAM_BACKSTOP_MS ?? '');
  const events = new RunEvents(Number.isFinite(backstop) && backstop > 0 ? backstop : undefined);
  const wake: { dispatcher?: RunDispatcher } = {};
  const identity = new SqlIdentityStore(db);
  const issuer = new OidcIssuer(identity, box, clock, {
    issuer: () => (config.publicUrl ?? baseUrl()).replace(/\/+$/, ''),
    ...oidcOptions(config.env),
  });
  const services: RunServices = {
    runs,
    directory,
    identity,
    mirrors,
    clock,
    newId: randomUUID,
    onRunCreated: () => wake.dispatcher?.poke(),
    onEventSkipped: (repo, head, reason) => config.ops?.pushSkipped(repo, head.ref, head.sha, reason),
  };
  const followUps = new Set<Promise<unknown>>();
  const owner = config.replicaId ?? `${hostname()}:${dataDir}`;
  const concurrency = config.concurrency ?? Math.max(2, availableParallelism());
  const embeddedCount = config.embeddedWorkers ?? 1;
  // The way before embedded workers, kept as the benchmark's baseline (docs/workers.md).
  const inProcess = config.env.CONVEYOR_TASKS_IN_PROCESS === '1';
  const parallelism = config.parallelism ?? Math.max(4, 2 * availableParallelism());
  const notifier = await openNotifier(db, config);
  const workers = composeWorkers(db, {
    config,
    clock,
    logs,
    mirrors,
    artifacts,
    directory,
    box,
    notifier,
    diedWithServer: (name) => embedded.owns(name),
    // Every task goes to a worker; with 0 embedded workers untagged ones wait for `--untagged` workers.
    everyTask: !inProcess,
  });
  const embedded = new EmbeddedWorkers({
    count: inProcess ? 0 : embeddedCount,
    slots: Math.max(4, 2 * availableParallelism()),
    parallelism,
    workRoot: work,
    owner,
    store: workers.store,
    clock,
    env: config.env,
    log: config.log,
  });
  const deploy = composeDeployments(db, services, dataDir, () => dispatcher, config.log);
  const live = liveViews(runs, clock, config.env, () => ctx, events);
  // What another replica changes reaches this one's streams and views (the notifier's wake-ups).
  const unshare = events.share(notifier, (runId) =>
    runId === undefined ? live.invalidateAll() : live.invalidate(runId),
  );
  const dispatcher: RunDispatcher = new RunDispatcher({
    // What follows a run's end is awaited by stop(), so a run ending during the drain still
    // moves its deployment on before the database closes.
    onRunEnded: (run) => {
      live.ended(run.id);
      const work = Promise.all([
        deploy.onRunEnded(run),
        workers.dispatch.endRun(run.id, `the run ended (${run.status})`),
        logs
          .compactRun(run.id)
          .catch((error: unknown) => config.log(`logs of run ${run.id}: ${String(error)}`)),
        config.ops
          ? directory.findRepoById(run.repoId).then(
              (repo) => config.ops?.runEnded(repo, run),
              () => config.ops?.runEnded(undefined, run),
            )
          : undefined,
      ]).finally(() => followUps.delete(work));
      followUps.add(work);
    },
    onRunStarted: (run, repo) => config.ops?.runStarted(repo, run),
    resumable: (run) => workers.dispatch.resumable(run),
    ping: async () => {
      await sql`select 1`.execute(db);
    },
    prepare: async (run, repo) => {
      if (run.context.commit?.sha) await mirrors.ensureCommit(repo.id, repo.cloneUrl, run.context.commit.sha);
    },
    runs,
    directory,
    box,
    clock,
    events,
    owner,
    concurrency,
    leaseMs: config.leaseMs ?? 30_000,
    pollMs: config.dispatchPollMs ?? 1000,
    log: config.log,
    engineDeps: (run, repo) => ({
      store: compactingLogs(live.observe(runs, run.id), run.id, compactLog),
      logs,
      artifacts: retrying(repo.id),
      ...executors,
      actions,
      workspaces: mirrors.workspaces(
        repo.id,
        run.context.commit?.sha ?? 'HEAD',
        run.id,
        run.context.attachDir ? { from: run.context.attachDir, as: RELEASE_DIR_IN_WORKSPACE } : undefined,
      ),
      clock,
      newId: randomUUID,
      parallelism,
      remote: workers.dispatch,
      idTokens: tokenMinter(issuer, { id: repo.id, path: `${repo.orgSlug}/${repo.slug}` }, (name) =>
        findConnection(identity, repo, name),
      ),
    }),
  });
  wake.dispatcher = dispatcher;
  const triggers = new TriggerLoop(
    services,
    config.triggerTickMs ?? 5000,
    config.log,
    deploy.tick,
    triggerLock(config, owner),
  );
  const ctx = {
    services,
    identity,
    issuer,
    access: new Access(directory, clock),
    box,
    dispatcher,
    workers,
    notifier,
    triggers,
    events,
    logs,
    artifacts,
    artifactsDir,
    blobs,
    baseUrl,
    artifactUrlTtlMs: config.artifactUrlTtlMs ?? 15 * 60 * 1000,
    log: config.log,
    policy: { orgCreators: config.env.CONVEYOR_ORG_CREATORS === 'users' ? 'users' : 'admins' },
    ...(config.ops ? { ops: config.ops } : {}),
    deploy: deploy.deploy,
    sessions: new UiSessions(new SqlSessionStore(db), directory, clock),
    uiDir: findUiDir(config.env),
    live,
  } as Omit<ServerContext, 'view'> as ServerContext;
  ctx.view = new RunView(ctx);
  return {
    ctx,
    start: async (listenUrl) => {
      await embedded.start(listenUrl ?? baseUrl());
      await dispatcher.start();
      workers.dispatch.startReaper(Math.min(1000, Math.max(50, workers.dispatch.o.leaseMs / 10)));
      triggers.start();
      // Logs of cubes that ended while a replica was down (or failed to compact) leave the rows.
      void logs.compactEnded((what, error) => config.log(`${what} not compacted yet: ${String(error)}`));
      config.ops?.workerJoined(
        owner,
        embeddedCount > 0
          ? `${concurrency} runs at once, their tasks on ${embedded.names.join(', ')}`
          : `${concurrency} runs at once`,
      );
    },
    stop: async (graceMs, closeHttp) => {
      await triggers.stop();
      await dispatcher.drain(graceMs);
      await Promise.all([...followUps]);
      // The workers are idle now: SIGTERM drains them, and held polls answer at once.
      const workersStopped = embedded.stop(Math.max(graceMs, 1000));
      workers.stop();
      await workersStopped;
      await closeHttp?.();
      executors.native.close?.();
      executors.container?.close?.();
      unshare();
      await logs.drain();
      await notifier.close();
      await db.destroy();
      blobs.close();
    },
  };
}

/** Live views of runs; CONVEYOR_LIVE_VIEWS=off reads every request from the store (benchmarks compare). */
function liveViews(
  runs: SqlRunStore,
  clock: Clock,
  env: NodeJS.ProcessEnv,
  ctx: () => ServerContext,
  events: RunEvents,
): LiveViews {
  const checkMs = Number(env.CONVEYOR_LIVE_VIEW_CHECK_MS ?? '');
  return new LiveViews({
    store: runs,
    clock,
    render: {
      run: (repo, run) => ctx().view.renderer.run(repo, run),
      workflow: (repo, run, slug) => ctx().view.renderer.workflow(repo, run, slug),
    },
    ...(Number.isFinite(checkMs) && checkMs >= 0 && env.CONVEYOR_LIVE_VIEW_CHECK_MS ? { checkMs } : {}),
    bodyMaxAgeMs: BODY_MAX_AGE_MS,
    enabled: env.CONVEYOR_LIVE_VIEWS !== 'off',
    onCommitted: (runId) => events.committed(runId),
  });
}

/** Replicas on PostgreSQL run schedules and polling one at a time; one server on SQLite needs no lock. */
function triggerLock(config: ServerConfig, owner: string): PgAdvisoryLock | undefined {
  const url = config.databaseUrl ?? '';
  if (!/^postgres(ql)?:\/\//.test(url)) return undefined;
  return new PgAdvisoryLock(url, TRIGGER_LOCK_KEY, `conveyor triggers ${owner}`, config.log);
}
