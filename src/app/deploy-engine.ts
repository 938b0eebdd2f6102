import {
  approvalSatisfied,
  isJobFinished,
  needsReview,
  nextJobStatus,
  runStatusOf,
  type JobEvent,
} from '../core/deploy/state.js';
import type { RunRecord, UserRef } from '../core/run/model.js';
import type {
  DeployJob,
  DeployRun,
  DeploymentStore,
  Environment,
  Release,
} from '../ports/deployment-store.js';
import type { Repo } from '../ports/directory-store.js';
import { ConflictError } from '../ports/errors.js';
import { createRun, type RunServices } from './create-run.js';

/** Where a deployment run finds the release's artifacts, relative to its workspace. */
export const RELEASE_DIR_IN_WORKSPACE = '.conveyor-release';

export interface DeployEngineDeps {
  deployments: DeploymentStore;
  runs: RunServices;
  /** The directory holding a release's stored artifacts. */
  releaseDir(projectId: string, releaseId: string): string;
  /** Stops a CI run a deployment started (the run was cancelled). */
  cancelCiRun(repo: Repo, ciRunSlug: string, reason: string): Promise<void>;
  /** The repository a project id names. */
  findRepo(projectId: string): Promise<Repo | undefined>;
  log(message: string): void;
}

/**
 * Moves deployment runs forward: jobs run one after another; a job whose environment is busy with
 * another run waits its turn; a job needing review waits for it; a job deploys by running the
 * environment's workflow as a CI run at the release's commit (or, without a workflow, records the
 * release at once). Work on one run is serialized here; other replicas are kept out by the store's
 * optimistic versions, and a lost race simply reloads and tries again.
 */
export class DeployEngine {
  private readonly chains = new Map<string, Promise<void>>();

  constructor(private readonly d: DeployEngineDeps) {}

  /** Advances a run as far as it can go now. */
  advance(repo: Repo, runId: string): Promise<void> {
    const previous = this.chains.get(runId) ?? Promise.resolve();
    const next = previous
      .then(() => this.advanceWithRetry(repo, runId))
      .catch((error: unknown) =>
        this.d.log(`deployment run ${runId}: ${error instanceof Error ? error.message : String(error)}`),
      )
      .finally(() => {
        if (this.chains.get(runId) === next) this.chains.delete(runId);
      });
    this.chains.set(runId, next);
    return next;
  }

  private async advanceWithRetry(repo: Repo, runId: string): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.step(repo, runId);
        return;
      } catch (error) {
        if (!(error instanceof ConflictError) || attempt >= 5) throw error;
      }
    }
  }

  private async step(repo: Repo, runId: string): Promise<void> {
    const { deployments } = this.d;
    for (;;) {
      const run = await deployments.findRun(repo.id, runId);
      if (!run || (run.status !== 'in_progress' && run.status !== 'waiting')) return;
      const job = run.jobs.find((j) => !isJobFinished(j.status));
      if (!job) {
        await this.save(run, []);
        return;
      }
      if (job.status !== 'not_started') return; // waiting for a reviewer or for its CI run
      const env = await deployments.findEnvironment(repo.id, job.environmentId);
      if (!env) {
        job.data = { ...job.data, error: 'the environment was deleted' };
        job.status = 'failure';
        await this.save(run, [job]);
        return;
      }
      if (await this.environmentBusy(env, run)) return; // its turn comes when the other run moves on
      const release = await deployments.findRelease(repo.id, run.releaseId);
      const review = needsReview(env);
      this.apply(job, { type: 'start', needsReview: review });
      job.startedAt = this.now();
      job.previousReleaseId = env.releaseId;
      job.event = review ? 'review_requested' : 'deployment_started';
      job.data = { ...job.data, ...(await this.rollbackNote(repo, env, release)) };
      await this.save(run, [job]);
      if (review) return;
      if (!(await this.deploy(repo, run, job, env, release))) return;
    }
  }

  /** Starts the job's deployment; returns whether it finished at once (record-only environments). */
  private async deploy(
    repo: Repo,
    run: DeployRun,
    job: DeployJob,
    env: Environment,
    release: Release | undefined,
  ): Promise<boolean> {
    if (!release) {
      await this.finishJob(repo, run, job, env, false, { error: 'the release was deleted' });
      return false;
    }
    if (!env.workflow) {
      await this.finishJob(repo, run, job, env, true, { recordOnly: true });
      return true;
    }
    const previous = env.releaseId ? await this.d.deployments.findRelease(repo.id, env.releaseId) : undefined;
    const head = await this.d.runs.mirrors
      .resolve(repo.id, { commit: release.commitId })
      .catch(() => undefined);
    const ci = await createRun(
      this.d.runs,
      repo,
      {
        eventType: 'manual',
        trigger: 'deployment',
        head: head ?? { sha: release.commitId, ref: '', author: '', message: '', timestamp: '' },
        configSha: release.commitId,
        workflows: [{ name: env.workflow, inputs: {} }],
        user: { id: run.createdById, slug: run.createdById },
        deployment: {
          environmentId: env.id,
          ...(release.artifacts.length > 0 ? { attachDir: this.d.releaseDir(repo.id, release.id) } : {}),
          env: {
            RELEASE_ID: release.id,
            RELEASE_NAME: release.name,
            RELEASE_VERSION: release.semanticVersion ?? '',
            ENVIRONMENT_KEY: env.key,
            PREVIOUS_RELEASE_VERSION: previous?.semanticVersion ?? '',
            RELEASE_ARTIFACTS: RELEASE_DIR_IN_WORKSPACE,
          },
        },
      },
      false,
    );
    job.ciRunId = ci.id;
    job.ciRunSlug = ci.slug;
    job.event = 'ci_run_started';
    job.data = {
      ...job.data,
      ciRun: { id: ci.id, slug: ci.slug, url: `/repos/${repo.orgSlug}/${repo.slug}/cicd/runs/${ci.slug}` },
    };
    await this.save(run, [job]);
    // A run that failed as it was created (a workflow missing at that commit) ends the job here:
    // going through onCiRunEnded would wait on this run's own chain, which is running this step.
    if (ci.status === 'failed') {
      await this.finishFromCiRun(repo, run, job, env, ci);
      return true;
    }
    return false;
  }

  /** A CI run ended: the job it deploys follows its status. */
  async onCiRunEnded(repo: Repo, ci: RunRecord): Promise<void> {
    const run = await this.d.deployments.findRunByCiRun(ci.id);
    const job = run?.jobs.find((j) => j.ciRunId === ci.id);
    if (!run || !job || job.status !== 'in_progress') return;
    const env = await this.d.deployments.findEnvironment(repo.id, job.environmentId);
    if (!env) return;
    await this.finishFromCiRun(repo, run, job, env, ci);
    await this.advance(repo, run.id);
  }

  private finishFromCiRun(
    repo: Repo,
    run: DeployRun,
    job: DeployJob,
    env: Environment,
    ci: RunRecord,
  ): Promise<void> {
    return this.finishJob(repo, run, job, env, ci.status === 'success', {
      ciRunStatus: ci.status,
      ...(ci.errorMessages.length ? { ciErrors: ci.errorMessages } : {}),
    });
  }

  private async finishJob(
    repo: Repo,
    run: DeployRun,
    job: DeployJob,
    env: Environment,
    ok: boolean,
    data: Record<string, unknown>,
  ): Promise<void> {
    this.apply(job, { type: ok ? 'deploy-succeeded' : 'deploy-failed' });
    job.finishedAt = this.now();
    job.event = ok ? 'release_deployed' : 'deployment_failed';
    job.data = { ...job.data, ...data };
    await this.save(run, [job]);
    if (ok) {
      env.releaseId = run.releaseId;
      env.updatedAt = this.now();
      await this.d.deployments.saveEnvironment(env);
    }
    await this.audit(repo.id, ok ? 'deployed' : 'deploy_failed', run.createdById, {
      runId: run.id,
      jobId: job.id,
      environment: env.key,
      releaseId: run.releaseId,
    });
  }

  /** Reviews a waiting job; throws ConflictError when another decision was stored first. */
  async review(
    repo: Repo,
    run: DeployRun,
    job: DeployJob,
    env: Environment,
    conclusion: 'approved' | 'rejected',
    comment: string,
    reviewer: UserRef,
  ): Promise<void> {
    if (conclusion === 'approved') {
      const approvals = [...new Set([...job.approvals, reviewer.id])];
      job.approvals = approvals;
      this.apply(job, {
        type: 'approve',
        satisfied: approvalSatisfied(
          env.approvalMode,
          env.approvalGroups.map((g) => g.id),
          approvals.map((id) => env.approvalGroups.filter((g) => g.members.includes(id)).map((g) => g.id)),
        ),
      });
    } else this.apply(job, { type: 'reject' });
    Object.assign(job, {
      reviewedAt: this.now(),
      reviewedById: reviewer.id,
      reviewedComment: comment,
      reviewedConclusion: conclusion,
    });
    job.event =
      conclusion === 'approved'
        ? job.status === 'in_progress'
          ? 'review_approved'
          : 'approval_recorded'
        : 'review_rejected';
    if (job.status === 'rejected') job.finishedAt = this.now();
    await this.save(run, [job]);
    await this.audit(repo.id, `review_${conclusion}`, reviewer.id, {
      runId: run.id,
      jobId: job.id,
      environment: env.key,
      comment,
    });
    if (job.status === 'in_progress') {
      const release = await this.d.deployments.findRelease(repo.id, run.releaseId);
      if (await this.deploy(repo, run, job, env, release)) await this.advance(repo, run.id);
    }
  }

  /** Cancels an unfinished run: its unfinished jobs end `cancelled`, a running deployment is stopped. */
  async cancel(repo: Repo, run: DeployRun, comment: string, by: UserRef): Promise<void> {
    const changed = run.jobs.filter((j) => !isJobFinished(j.status));
    const running = changed.filter((j) => j.status === 'in_progress' && j.ciRunId);
    for (const job of changed) {
      this.apply(job, { type: 'cancel' });
      job.finishedAt = this.now();
      job.event = 'cancelled';
    }
    Object.assign(run, { cancelledById: by.id, cancelledComment: comment });
    await this.save(run, changed, true);
    await this.audit(repo.id, 'cancelled', by.id, { runId: run.id, comment });
    for (const job of running)
      await this.d.cancelCiRun(
        repo,
        job.ciRunId as string,
        `deployment run cancelled by ${by.slug}: ${comment}`,
      );
  }

  /**
   * The periodic pass over unfinished runs: expires approvals, follows CI runs that ended while
   * nobody was told (a server restart), and starts jobs whose environment became free.
   */
  async tick(): Promise<void> {
    for (const run of await this.d.deployments.listActiveRuns()) {
      const repo = await this.d.findRepo(run.projectId);
      if (!repo) continue;
      try {
        await this.expireApprovals(repo, run);
        for (const job of run.jobs.filter((j) => j.status === 'in_progress' && j.ciRunSlug)) {
          const ci = await this.d.runs.runs.findRun(repo.id, job.ciRunSlug ?? '');
          if (ci && ['success', 'failed', 'canceled', 'timeout'].includes(ci.status))
            await this.onCiRunEnded(repo, ci);
        }
        await this.advance(repo, run.id);
      } catch (error) {
        if (!(error instanceof ConflictError)) throw error;
      }
    }
  }

  /** Rejects waiting jobs whose environment's approval timeout has passed. */
  async expireApprovals(repo: Repo, run: DeployRun): Promise<void> {
    for (const job of run.jobs.filter((j) => j.status === 'waiting')) {
      const env = await this.d.deployments.findEnvironment(repo.id, job.environmentId);
      if (!env?.approvalTimeoutMs || (job.startedAt ?? 0) + env.approvalTimeoutMs > this.now()) continue;
      this.apply(job, { type: 'approval-timeout' });
      Object.assign(job, {
        reviewedAt: this.now(),
        reviewedConclusion: 'rejected',
        reviewedComment: `no review within ${env.approvalTimeoutMs / 1000} s: rejected automatically`,
        finishedAt: this.now(),
        event: 'approval_timed_out',
      });
      await this.save(run, [job]);
      await this.audit(repo.id, 'review_timed_out', undefined, {
        runId: run.id,
        jobId: job.id,
        environment: env.key,
      });
    }
  }

  private async environmentBusy(env: Environment, run: DeployRun): Promise<boolean> {
    const active = await this.d.deployments.listActiveRuns();
    return active.some(
      (other) =>
        other.id !== run.id &&
        other.createdAt <= run.createdAt &&
        other.jobs.some(
          (j) =>
            j.environmentId === env.id &&
            (j.status === 'waiting' ||
              j.status === 'in_progress' ||
              (j.status === 'not_started' && other.createdAt < run.createdAt && isNextJob(other, j))),
        ),
    );
  }

  private async rollbackNote(
    repo: Repo,
    env: Environment,
    release: Release | undefined,
  ): Promise<Record<string, unknown>> {
    if (!release || !env.releaseId || env.releaseId === release.id) return {};
    const live = await this.d.deployments.findRelease(repo.id, env.releaseId);
    const older =
      live?.version !== undefined && release.version !== undefined && release.version < live.version;
    return older ? { rollback: true, rollbackFrom: live?.semanticVersion } : {};
  }

  private apply(job: DeployJob, event: JobEvent): void {
    job.status = nextJobStatus(job.status, event);
  }

  private async save(run: DeployRun, jobs: DeployJob[], cancelled = false): Promise<void> {
    const status = runStatusOf(run.jobs, cancelled || run.status === 'cancelled');
    run.status = status;
    if (status === 'completed' || status === 'failure' || status === 'cancelled')
      run.completedAt ??= this.now();
    await this.d.deployments.saveRun(run, jobs);
  }

  private async audit(
    projectId: string,
    action: string,
    actorId: string | undefined,
    data: Record<string, unknown>,
  ): Promise<void> {
    await this.d.deployments.insertAudit({
      id: this.d.runs.newId(),
      projectId,
      at: this.now(),
      ...(actorId ? { actorId } : {}),
      action,
      type: 'deployment',
      data,
    });
  }

  private now(): number {
    return this.d.runs.clock.now();
  }
}

/** Whether `job` is the next unfinished job of its run (so the run will take its environment next). */
function isNextJob(run: DeployRun, job: DeployJob): boolean {
  return run.jobs.find((j) => !isJobFinished(j.status)) === job;
}
