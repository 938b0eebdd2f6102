import { assertNever } from '../assert-never.js';

/** GoRules' job statuses (docs/deployments.md, "Jobs"). */
export const JOB_STATUSES = [
  'not_started',
  'waiting',
  'in_progress',
  'completed',
  'failure',
  'rejected',
  'cancelled',
] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

/** GoRules' run statuses. */
export const DEPLOY_RUN_STATUSES = ['in_progress', 'waiting', 'completed', 'failure', 'cancelled'] as const;
export type DeployRunStatus = (typeof DEPLOY_RUN_STATUSES)[number];

export type ApprovalMode = 'none' | 'none_create_request' | 'require_any' | 'require_one_per_team';

export type JobEvent =
  /** The job's turn came and its environment is free. */
  | { type: 'start'; needsReview: boolean }
  /** A reviewer approved; `satisfied` says whether the approval rule is now met. */
  | { type: 'approve'; satisfied: boolean }
  | { type: 'reject' }
  /** Nobody decided within the environment's approval timeout. */
  | { type: 'approval-timeout' }
  | { type: 'deploy-succeeded' }
  | { type: 'deploy-failed' }
  | { type: 'cancel' };

export class IllegalJobTransition extends Error {
  constructor(
    readonly from: JobStatus,
    readonly event: JobEvent['type'],
  ) {
    super(`a job that is ${from} cannot take '${event}'`);
  }
}

export function isJobFinished(status: JobStatus): boolean {
  return status === 'completed' || status === 'failure' || status === 'rejected' || status === 'cancelled';
}

/**
 * The job state machine:
 * `not_started -> waiting (review needed) | in_progress`, `waiting -> in_progress (approved) |
 * rejected (rejected, or the approval timed out)`, `in_progress -> completed | failure`, and any
 * unfinished job -> `cancelled`. Anything else is an IllegalJobTransition (the API answers 409).
 */
export function nextJobStatus(from: JobStatus, event: JobEvent): JobStatus {
  switch (event.type) {
    case 'start':
      if (from === 'not_started') return event.needsReview ? 'waiting' : 'in_progress';
      break;
    case 'approve':
      if (from === 'waiting') return event.satisfied ? 'in_progress' : 'waiting';
      break;
    case 'reject':
    case 'approval-timeout':
      if (from === 'waiting') return 'rejected';
      break;
    case 'deploy-succeeded':
      if (from === 'in_progress') return 'completed';
      break;
    case 'deploy-failed':
      if (from === 'in_progress') return 'failure';
      break;
    case 'cancel':
      if (!isJobFinished(from)) return 'cancelled';
      break;
    default:
      return assertNever(event);
  }
  throw new IllegalJobTransition(from, event.type);
}

/**
 * A run's status from its jobs (jobs run one after another, in order):
 * `cancelled` once cancelled; else `failure` if a job failed or was rejected (the later jobs stay
 * `not_started`); else `completed` when every job completed; else `waiting` while a job awaits
 * review; else `in_progress`.
 */
export function runStatusOf(jobs: readonly { status: JobStatus }[], cancelled: boolean): DeployRunStatus {
  if (cancelled) return 'cancelled';
  if (jobs.some((j) => j.status === 'failure' || j.status === 'rejected')) return 'failure';
  if (jobs.every((j) => j.status === 'completed')) return 'completed';
  if (jobs.some((j) => j.status === 'waiting')) return 'waiting';
  return 'in_progress';
}

/** Whether an environment's deployments wait for a reviewer. */
export function needsReview(env: { approvalMode: ApprovalMode; requiredReviewers: boolean }): boolean {
  return (
    env.requiredReviewers || env.approvalMode === 'require_any' || env.approvalMode === 'require_one_per_team'
  );
}

/**
 * Whether the approvals so far meet the environment's rule: one approval for `require_any` (and for
 * `requiredReviewers` alone); one approval from each listed group for `require_one_per_team`.
 * `approverGroups` holds, per approval, the groups the approver belongs to.
 */
export function approvalSatisfied(
  mode: ApprovalMode,
  groups: readonly string[],
  approverGroups: readonly (readonly string[])[],
): boolean {
  if (approverGroups.length === 0) return false;
  if (mode !== 'require_one_per_team' || groups.length === 0) return true;
  return groups.every((group) => approverGroups.some((member) => member.includes(group)));
}

/** The next semantic version of a release. */
export function bumpVersion(previous: string | undefined, type: 'major' | 'minor' | 'patch'): string {
  const [major = 0, minor = 0, patch = 0] = (previous ?? '0.0.0').split('.').map((n) => Number(n) || 0);
  if (type === 'major') return `${major + 1}.0.0`;
  if (type === 'minor') return `${major}.${minor + 1}.0`;
  return `${major}.${minor}.${patch + 1}`;
}
