export interface UserRef {
  id: string;
  email: string;
  firstName: string;
  lastName: string;
}
export interface ReleaseRef {
  id: string;
  name: string;
  version: string | null;
}
export interface Environment {
  id: string;
  name: string;
  key: string;
  addToWorkflow: boolean;
  workflowOrder: number;
  requiredReviewers: boolean;
  reviewers: { id: string }[];
  approvalMode: string;
  approvalGroups: { id: string; name?: string; members?: { id: string }[] }[];
  releaseId: string | null;
  release: { id: string; name: string; semanticVersion: string | null; version: number | null } | null;
  workflow: string | null;
}
export interface Job {
  id: string;
  status: string;
  order: number;
  environmentId: string;
  environment: { id: string; name: string; key: string } | null;
  reviewedAt: string | null;
  reviewedBy: UserRef | null;
  reviewedComment: string | null;
  reviewedConclusion: string | null;
  previousRelease: ReleaseRef | null;
  event: string | null;
  data: { ciRun?: { slug?: string | number }; rollback?: boolean };
  deploymentWorkflowRunId: string;
}
export interface DeployRun {
  id: string;
  name: string;
  status: string;
  releaseId: string;
  createdAt: string;
  createdById: string;
  jobs: Job[];
  release: ReleaseRef | null;
  createdBy: UserRef | null;
  completedAt: string | null;
  cancelledBy: UserRef | null;
  cancelledComment: string | null;
}
export interface Release {
  id: string;
  name: string;
  status: string;
  version: number | null;
  semanticVersion: string | null;
  commitId: string;
  createdAt: string;
}
export interface Page<T> {
  results: T[];
  paginate: { total: number };
}

export const who = (u: UserRef | null) => (u ? [u.firstName, u.lastName].join(' ').trim() || u.email : '');
export const relName = (r: ReleaseRef | null | undefined) =>
  r ? `${r.name}${r.version ? ` (${r.version})` : ''}` : '—';

/** Whether `userId` may review a job on `env` (docs/deployments.md: reviewers and group members; not the run's author for approvals). */
export function mayReview(env: Environment | undefined, userId: string): boolean {
  if (!env) return false;
  return (
    env.reviewers.some((r) => r.id === userId) ||
    env.approvalGroups.some((g) => (g.members ?? []).some((m) => m.id === userId))
  );
}
