import type { ApprovalMode, DeployRunStatus, JobStatus } from '../core/deploy/state.js';

export interface Environment {
  id: string;
  projectId: string;
  name: string;
  key: string;
  type: string;
  addToWorkflow: boolean;
  workflowOrder: number;
  requiredReviewers: boolean;
  reviewers: string[];
  approvalMode: ApprovalMode;
  /** Conveyor keeps group membership on the environment: GoRules groups are an organization feature. */
  approvalGroups: { id: string; name: string; members: string[] }[];
  /** What is live there now. */
  releaseId?: string;
  /** The ci.yaml workflow that deploys; none = record-only. */
  workflow?: string;
  approvalTimeoutMs?: number;
  createdAt: number;
  updatedAt: number;
  version: number;
}

export interface ReleaseArtifact {
  path: string;
  size: number;
  sha256: string;
}

export interface Release {
  id: string;
  projectId: string;
  name: string;
  description: string;
  status: 'draft' | 'published';
  /** The integer counter, set when published. */
  version?: number;
  semanticVersion?: string;
  commitId: string;
  sourceRun?: string;
  artifacts: ReleaseArtifact[];
  createdById: string;
  createdAt: number;
  /** Optimistic-lock counter of the stored row (GoRules uses `version` for the release number). */
  rowVersion: number;
}

export interface DeployJob {
  id: string;
  runId: string;
  projectId: string;
  environmentId: string;
  order: number;
  status: JobStatus;
  createdAt: number;
  startedAt?: number;
  finishedAt?: number;
  reviewedAt?: number;
  reviewedById?: string;
  reviewedComment?: string;
  reviewedConclusion?: 'approved' | 'rejected';
  /** User ids that approved so far (group approval needs several). */
  approvals: string[];
  previousReleaseId?: string;
  event?: string;
  data: Record<string, unknown>;
  ciRunId?: string;
  ciRunSlug?: string;
  version: number;
}

export interface DeployRun {
  id: string;
  projectId: string;
  name: string;
  status: DeployRunStatus;
  releaseId: string;
  runVersion: 'v2' | 'release';
  createdById: string;
  createdAt: number;
  completedAt?: number;
  cancelledById?: string;
  cancelledComment?: string;
  jobs: DeployJob[];
  version: number;
}

export interface AuditEntry {
  id: string;
  projectId: string;
  at: number;
  actorId?: string;
  action: string;
  type: string;
  data: Record<string, unknown>;
}

/**
 * Environments, releases, deployment runs and their audit log.
 *
 * Contract: `insert*` throw ConflictError on a taken key (environment key per project, release
 * version per project). `saveRun` writes the run and the given jobs in one transaction, each
 * compared on its `version` (ConflictError, nothing written, when someone changed one first); on
 * success the versions are bumped. Environments are saved the same way. Lists are newest first.
 */
export interface DeploymentStore {
  insertEnvironment(env: Environment): Promise<void>;
  saveEnvironment(env: Environment): Promise<void>;
  findEnvironment(projectId: string, id: string): Promise<Environment | undefined>;
  listEnvironments(projectId: string): Promise<Environment[]>;

  insertRelease(release: Release): Promise<void>;
  saveRelease(release: Release): Promise<void>;
  findRelease(projectId: string, id: string): Promise<Release | undefined>;
  listReleases(
    projectId: string,
    page: number,
    pageSize: number,
  ): Promise<{ results: Release[]; total: number }>;
  lastPublished(projectId: string): Promise<Release | undefined>;

  insertRun(run: DeployRun): Promise<void>;
  saveRun(run: DeployRun, jobs: DeployJob[]): Promise<void>;
  findRun(projectId: string, id: string): Promise<DeployRun | undefined>;
  listRuns(
    projectId: string,
    filter: { page: number; pageSize: number; status?: string; releaseId?: string },
  ): Promise<{ results: DeployRun[]; total: number }>;
  /** Runs not finished yet, oldest first (the engine advances them). */
  listActiveRuns(): Promise<DeployRun[]>;
  /** The run whose job started this CI run, if any. */
  findRunByCiRun(ciRunId: string): Promise<DeployRun | undefined>;

  insertAudit(entry: AuditEntry): Promise<void>;
  listAudit(
    projectId: string,
    page: number,
    pageSize: number,
  ): Promise<{ results: AuditEntry[]; total: number }>;
}
