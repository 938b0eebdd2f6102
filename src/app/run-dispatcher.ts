import type { RunRecord } from '../core/run/model.js';
import { isTerminal } from '../core/run/status.js';
import type { Clock } from '../ports/clock.js';
import type { DirectoryStore, Repo } from '../ports/directory-store.js';
import type { RunStore } from '../ports/run-store.js';
import { endRunWithoutEngine } from './end-run.js';
import { RunEngine, type EngineDeps } from './run-engine.js';
import type { RunEvents } from './run-events.js';
import { runSecrets } from './run-secrets.js';
import type { SecretBox } from './secret-box.js';

export interface DispatcherOptions {
  runs: RunStore;
  directory: DirectoryStore;
  box: SecretBox;
  clock: Clock;
  events: RunEvents;
  /** Adapters for one run: executors, log and artifact stores, the run's workspaces. */
  engineDeps(run: RunRecord, repo: Repo): EngineDeps;
  /** This replica's name in run claims. */
  owner: string;
  /** Runs executing at once in this process. */
  concurrency: number;
  leaseMs: number;
  /** How often to look for runs created elsewhere (other replicas) and for abandoned runs. */
  pollMs: number;
  log: (message: string) => void;
  /** Gets a claimed run's prerequisites in place (its commit in this replica's mirror); throws with why not. */
  prepare?: (run: RunRecord, repo: Repo) => Promise<void>;
  /** Told when a run this dispatcher executed or ended has finished (deployments follow their CI runs). */
  onRunEnded?: (run: RunRecord) => void;
  /** Told when this dispatcher begins executing a run (the operator log). */
  onRunStarted?: (run: RunRecord, repo: Repo) => void;
  /** A cheap query: does the store answer? (Abandoned runs are only taken once it has for a lease.) */
  ping?: () => Promise<void>;
  /** Whether an abandoned run has tasks on workers, so it is resumed rather than ended. */
  resumable?: (run: RunRecord) => Promise<boolean>;
}

/**
 * The embedded worker: claims stored runs (`prepared`) up to the concurrency limit, executes each
 * with a RunEngine, and keeps its claims alive. A run whose claim lapsed while it was `processing`
 * (its server died) is resumed from the store when it has tasks on workers (they go on; what ran
 * in the dead server's processes ends with a message), else ended with an error message saying
 * so; nothing stays `processing` forever.
 */
export class RunDispatcher {
  private readonly engines = new Map<string, { engine: RunEngine; done: Promise<void> }>();
  private timer: NodeJS.Timeout | undefined;
  private renewTimer: NodeJS.Timeout | undefined;
  private claiming: Promise<void> | undefined;
  private again = false;
  private draining = false;
  private healthySince: number | undefined;

  constructor(private readonly o: DispatcherOptions) {}

  async start(): Promise<void> {
    this.healthySince = this.o.clock.now();
    await this.recover(true);
    this.timer = setInterval(() => {
      this.poke();
      void this.recover(false).catch((error: unknown) => this.o.log(`recovery failed: ${String(error)}`));
      void this.followCancelRequests().catch((error: unknown) =>
        this.o.log(`cancel requests: ${String(error)}`),
      );
    }, this.o.pollMs);
    this.renewTimer = setInterval(() => void this.renew(), Math.max(50, this.o.leaseMs / 3));
    this.poke();
  }

  get running(): number {
    return this.engines.size;
  }

  /** Looks for work now; calls while a claim is under way make one more pass after it. */
  poke(): void {
    if (this.draining) return;
    if (this.claiming) {
      this.again = true;
      return;
    }
    this.claiming = this.claim()
      .catch((error: unknown) => this.o.log(`claiming runs failed: ${String(error)}`))
      .finally(() => {
        this.claiming = undefined;
        if (this.again) {
          this.again = false;
          this.poke();
        }
      });
  }

  private async claim(): Promise<void> {
    const free = this.o.concurrency - this.engines.size;
    if (free <= 0) return;
    const now = this.o.clock.now();
    const runs = await this.o.runs.claimRuns(this.o.owner, now, now + this.o.leaseMs, free);
    for (const run of runs) await this.execute(run);
  }

  private async execute(run: RunRecord): Promise<void> {
    const repo = await this.o.directory.findRepoById(run.repoId);
    if (!repo) {
      await endRunWithoutEngine(this.o.runs, run, 'the repository was deleted', this.o.clock.now());
      return;
    }
    try {
      await this.o.prepare?.(run, repo);
    } catch (error) {
      const reason = `the run could not start: ${error instanceof Error ? error.message : String(error)}`;
      this.o.onRunEnded?.(await endRunWithoutEngine(this.o.runs, run, reason, this.o.clock.now()));
      return;
    }
    const secrets = await runSecrets(this.o.directory, this.o.box, repo, run.context.environmentId);
    const { events } = this.o;
    const engine = new RunEngine(this.o.engineDeps(run, repo), run, secrets, {
      onStatus: (kind, path, status) =>
        events.publish(run.id, { type: 'status', kind, path, status, at: this.o.clock.now() }),
      onOutput: (path, chunk) =>
        events.publish(run.id, {
          type: 'output',
          path,
          text: chunk.toString('utf8'),
          at: this.o.clock.now(),
        }),
    });
    const done = engine
      .execute()
      .then(
        () => undefined,
        (error: unknown) => this.o.log(`run ${run.id} could not be stored: ${String(error)}`),
      )
      .finally(() => {
        this.engines.delete(run.id);
        this.poke();
        this.o.onRunEnded?.(run);
      });
    this.engines.set(run.id, { engine, done });
    this.o.onRunStarted?.(run, repo);
  }

  /** Cancels the runs executing here that another replica was asked to cancel. */
  private async followCancelRequests(): Promise<void> {
    if (this.engines.size === 0) return;
    for (const { runId, reason } of await this.o.runs.cancelRequests([...this.engines.keys()]))
      this.engines.get(runId)?.engine.cancel(reason);
  }

  /**
   * Cancels a run: the engine executing it here stops its cubes; a queued run is claimed and ended;
   * a run executing on another replica gets a cancel request that replica follows within `pollMs`
   * (the answer is then 'requested').
   */
  async cancel(run: RunRecord, reason: string): Promise<'done' | 'requested'> {
    const local = this.engines.get(run.id);
    if (local) {
      local.engine.cancel(reason);
      await local.done;
      return 'done';
    }
    if (isTerminal(run.status)) return 'done';
    const now = this.o.clock.now();
    const claimed = await this.o.runs.claimRun(this.o.owner, run.id, now, now + this.o.leaseMs);
    if (!claimed) {
      await this.o.runs.requestCancel(run.id, reason);
      return 'requested';
    }
    this.o.onRunEnded?.(await endRunWithoutEngine(this.o.runs, claimed, reason, now));
    return 'done';
  }

  /**
   * Ends (or resumes) runs whose server died; at start (`ownToo`) also the runs this replica ran
   * before it stopped. Another server's run is only taken once the store has answered here for a
   * whole lease: after an outage of the database, every server renews its claims first.
   */
  private async recover(ownToo: boolean): Promise<void> {
    const now = this.o.clock.now();
    if (!ownToo && this.o.ping) {
      try {
        await this.o.ping();
      } catch (error) {
        this.healthySince = undefined;
        throw error;
      }
      this.healthySince ??= now;
      if (now - this.healthySince < this.o.leaseMs) return;
    }
    const abandoned = await this.o.runs.claimAbandoned(this.o.owner, now, now + this.o.leaseMs, ownToo);
    for (const run of abandoned) {
      if (this.engines.has(run.id)) continue;
      if (await this.o.resumable?.(run).catch(() => false)) {
        this.o.log(`resuming run ${run.id} from the store: its tasks on workers go on`);
        await this.execute(run);
        continue;
      }
      const reason =
        'Conveyor stopped while this run was processing (a crash or a restart of the server); cubes that were running were ended as canceled. Restart the run to try again.';
      await endRunWithoutEngine(this.o.runs, run, reason, now).then(
        (ended) => this.o.onRunEnded?.(ended),
        (error: unknown) => this.o.log(`could not end abandoned run ${run.id}: ${String(error)}`),
      );
      this.o.log(`ended run ${run.id} left unfinished by a stopped server`);
    }
  }

  private async renew(): Promise<void> {
    const now = this.o.clock.now();
    await this.o.runs
      .renewLeases(this.o.owner, [...this.engines.keys()], now + this.o.leaseMs)
      .catch((error: unknown) => this.o.log(`renewing run claims failed: ${String(error)}`));
  }

  /**
   * Stops taking work, lets running runs finish for up to `graceMs`, then cancels what is left so
   * every run is recorded as ended.
   */
  async drain(graceMs: number): Promise<void> {
    this.draining = true;
    clearInterval(this.timer);
    await this.claiming;
    const all = Promise.all([...this.engines.values()].map((e) => e.done));
    const timedOut = await Promise.race([all.then(() => false), delay(graceMs).then(() => true)]);
    if (timedOut) {
      for (const { engine } of this.engines.values())
        engine.cancel('the server shut down before the run finished; restart the run to try again');
      // A cancel waits for the workers' reports; a worker that is gone never sends one. Those runs
      // are left to the next start's recovery rather than holding the shutdown forever.
      const stuck = await Promise.race([
        all.then(() => false),
        delay(Math.max(graceMs, 5000)).then(() => true),
      ]);
      if (stuck)
        this.o.log(
          `shutting down with ${this.engines.size} run(s) still ending; the next start recovers them`,
        );
    }
    clearInterval(this.renewTimer);
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
