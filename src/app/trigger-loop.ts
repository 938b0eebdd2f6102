import { CONFIG_PATHS } from './load-config.js';
import type { CiConfig } from '../core/config/model.js';
import { dueSlot, scheduleKey } from './schedule-slots.js';
import type { Repo } from '../ports/directory-store.js';
import { createRun, loadRepoConfig, type RunServices } from './create-run.js';
import { handlePush } from './git-events.js';
import { soleReplica, type LeaderLock } from '../ports/leader-lock.js';

/**
 * Background triggers, one tick every `tickMs`:
 * - polling: repositories with a poll interval are fetched when it is due, and every ref that moved
 *   since the last look is handled as a push (the first look only records the refs);
 * - schedules: each `on.schedule` rule of the default branch's config fires once per slot. The
 *   store claims a slot once across replicas and restarts, so a slot missed while the server was
 *   down fires once when it comes back, and never twice.
 * Both run on one replica at a time, the holder of `lock` (a PostgreSQL advisory lock); another
 * replica takes over on its next tick after the holder dies. `alsoEachTick` runs on every replica.
 * A tick of unchanged repositories starts no git process (GitMirrors reads branch heads from the
 * ref files); polling fetches once per poll interval.
 */
export class TriggerLoop {
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private readonly lastPoll = new Map<string, number>();
  private readonly configs = new Map<string, CiConfig | undefined>();
  private holding = false;

  constructor(
    private readonly services: RunServices,
    private readonly tickMs: number,
    private readonly log: (message: string) => void,
    /** More periodic work on the same tick (deployment runs). */
    private readonly alsoEachTick: () => Promise<void> = () => Promise.resolve(),
    private readonly lock: LeaderLock = soleReplica,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.tick(), this.tickMs);
    this.tick();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.ticking;
    await this.lock.release();
  }

  private tick(): void {
    if (this.ticking) return;
    this.ticking = this.runTick()
      .catch((error: unknown) => this.log(`trigger loop: ${String(error)}`))
      .finally(() => (this.ticking = undefined));
  }

  private async runTick(): Promise<void> {
    await this.alsoEachTick().catch((error: unknown) => this.log(`deployments: ${String(error)}`));
    const holds = await this.lock.hold();
    if (holds !== this.holding) {
      this.holding = holds;
      if (this.lock !== soleReplica)
        this.log(
          holds
            ? 'trigger loop: this replica runs schedules and repository polling now'
            : 'trigger loop: another replica runs schedules and repository polling',
        );
      // What the last holder saw is in the store; polling resumes from there.
      this.lastPoll.clear();
    }
    if (!holds) return;
    const now = this.services.clock.now();
    for (const repo of await this.services.directory.listAllRepos()) {
      try {
        if (repo.pollIntervalMs > 0 && now - (this.lastPoll.get(repo.id) ?? 0) >= repo.pollIntervalMs) {
          this.lastPoll.set(repo.id, now);
          await this.poll(repo);
        }
        await this.fireSchedules(repo, now);
      } catch (error) {
        this.log(`${repo.orgSlug}/${repo.slug}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  }

  /** Fetches the repository and handles every moved ref as a push. */
  async poll(repo: Repo): Promise<void> {
    const { mirrors, directory } = this.services;
    await mirrors.sync(repo.id, repo.cloneUrl);
    const refs = await mirrors.listRefs(repo.id);
    const seen = await directory.getPollState(repo.id);
    await directory.setPollState(repo.id, refs);
    await this.adoptFirstBranch(repo, seen, refs);
    if (!seen) return;
    for (const [ref, sha] of Object.entries(refs)) {
      const before = seen[ref];
      if (before === sha) continue;
      await handlePush(this.services, repo, { ref, before: before ?? '0'.repeat(40), after: sha }, 'poll');
    }
  }

  /**
   * A repository registered while still empty got a guessed default branch; its first branches
   * tell the real one (the remote's HEAD, as `git init` named it), before their pushes are handled.
   */
  private async adoptFirstBranch(
    repo: Repo,
    seen: Record<string, string> | undefined,
    refs: Record<string, string>,
  ): Promise<void> {
    const heads = (r: Record<string, string> | undefined) =>
      Object.keys(r ?? {}).filter((ref) => ref.startsWith('refs/heads/'));
    if (heads(seen).length > 0 || heads(refs).length === 0) return;
    if (heads(refs).includes(`refs/heads/${repo.defaultBranch}`)) return;
    const branch = await this.services.mirrors.remoteDefaultBranch(repo.id, repo.cloneUrl);
    if (!branch || branch === repo.defaultBranch) return;
    this.log(`${repo.orgSlug}/${repo.slug}: default branch is ${branch} (the first push names it)`);
    repo.defaultBranch = branch;
    await this.services.directory.updateRepo(repo);
  }

  private async fireSchedules(repo: Repo, now: number): Promise<void> {
    const { mirrors, directory } = this.services;
    const head = await mirrors
      .resolve(repo.id, { branch: repo.defaultBranch }, CONFIG_PATHS)
      .catch(() => undefined);
    if (!head) return;
    const config = await this.configAt(repo, head.sha);
    for (const rule of config?.triggers.schedule ?? []) {
      const slot = dueSlot(rule, now);
      // Slots from before the repository was registered are history, not missed work.
      if (slot === undefined || slot < repo.createdAt) continue;
      if (!(await directory.claimScheduleSlot(repo.id, scheduleKey(rule), slot))) continue;
      await createRun(
        this.services,
        repo,
        {
          eventType: 'manual',
          trigger: 'schedule',
          head: { ...head, ref: `refs/heads/${repo.defaultBranch}` },
          configSha: head.sha,
          workflows: rule.workflows.map((name) => ({ name, inputs: {} })),
        },
        false,
      );
    }
  }

  private async configAt(repo: Repo, sha: string): Promise<CiConfig | undefined> {
    const key = `${repo.id}@${sha}`;
    if (!this.configs.has(key)) {
      if (this.configs.size > 500) this.configs.clear();
      this.configs.set(key, (await loadRepoConfig(this.services.mirrors, repo, sha)).config);
    }
    return this.configs.get(key);
  }
}
