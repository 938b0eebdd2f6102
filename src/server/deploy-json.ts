import type { DeployJob, DeployRun, Environment, Release } from '../ports/deployment-store.js';
import type { User } from '../ports/directory-store.js';

const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());

export type Users = (id: string | undefined) => Promise<User | undefined>;
export type Releases = (id: string | undefined) => Promise<Release | undefined>;
export type Environments = (id: string) => Promise<Environment | undefined>;

const userRef = (u: User | undefined) =>
  u ? { id: u.id, email: u.email, firstName: u.firstName, lastName: u.lastName } : null;
const releaseRef = (r: Release | undefined) =>
  r ? { id: r.id, name: r.name, version: r.semanticVersion ?? null } : null;

export function releaseJson(r: Release) {
  return {
    id: r.id,
    projectId: r.projectId,
    name: r.name,
    description: r.description,
    status: r.status,
    version: r.version ?? null,
    semanticVersion: r.semanticVersion ?? null,
    commitId: r.commitId,
    sourceRun: r.sourceRun ?? null,
    artifacts: r.artifacts,
    createdById: r.createdById,
    createdAt: iso(r.createdAt),
    deletedAt: null,
  };
}

export async function environmentJson(env: Environment, releases: Releases) {
  const release = await releases(env.releaseId);
  return {
    id: env.id,
    projectId: env.projectId,
    name: env.name,
    key: env.key,
    type: env.type,
    addToWorkflow: env.addToWorkflow,
    workflowOrder: env.workflowOrder,
    requiredReviewers: env.requiredReviewers,
    reviewers: env.reviewers.map((id) => ({ id })),
    approvalMode: env.approvalMode,
    approvalGroups: env.approvalGroups,
    releaseId: env.releaseId ?? null,
    release: release
      ? {
          id: release.id,
          name: release.name,
          status: release.status,
          createdAt: iso(release.createdAt),
          version: release.version ?? null,
          semanticVersion: release.semanticVersion ?? null,
        }
      : null,
    workflow: env.workflow ?? null,
    approvalTimeout: env.approvalTimeoutMs === undefined ? null : `${env.approvalTimeoutMs / 1000}s`,
    createdAt: iso(env.createdAt),
    updatedAt: iso(env.updatedAt),
    deletedAt: null,
  };
}

/** GoRules' `DeploymentWorkflowRun`, with every field of the published run shape (null when unset). */
export async function deployRunJson(run: DeployRun, users: Users, releases: Releases, envs: Environments) {
  const jobs = [];
  for (const job of run.jobs) jobs.push(await jobJson(job, users, releases, envs));
  return {
    id: run.id,
    name: run.name,
    status: run.status,
    releaseId: run.releaseId,
    projectId: run.projectId,
    createdById: run.createdById,
    createdAt: iso(run.createdAt),
    jobs,
    runVersion: run.runVersion,
    release: releaseRef(await releases(run.releaseId)),
    createdBy: userRef(await users(run.createdById)),
    completedAt: iso(run.completedAt),
    cancelledById: run.cancelledById ?? null,
    cancelledBy: userRef(await users(run.cancelledById)),
    cancelledComment: run.cancelledComment ?? null,
  };
}

async function jobJson(job: DeployJob, users: Users, releases: Releases, envs: Environments) {
  const env = await envs(job.environmentId);
  return {
    id: job.id,
    status: job.status,
    order: job.order,
    environmentId: job.environmentId,
    projectId: job.projectId,
    deploymentWorkflowRunId: job.runId,
    createdAt: iso(job.createdAt),
    environment: env ? { id: env.id, name: env.name, key: env.key } : null,
    reviewedAt: iso(job.reviewedAt),
    reviewedBy: userRef(await users(job.reviewedById)),
    reviewedComment: job.reviewedComment ?? null,
    reviewedConclusion: job.reviewedConclusion ?? null,
    previousRelease: releaseRef(await releases(job.previousReleaseId)),
    previousReleaseId: job.previousReleaseId ?? null,
    event: job.event ?? null,
    data: job.data,
  };
}

/** GoRules' paginated list shape. */
export function paginated<T>(results: T[], page: number, pageSize: number, total: number) {
  const from = total === 0 ? 0 : (page - 1) * pageSize + 1;
  return {
    results,
    paginate: {
      current: page,
      from,
      to: Math.min(total, (page - 1) * pageSize + results.length),
      total,
      pageSize,
    },
  };
}
