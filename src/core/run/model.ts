import type { CheckoutDef, ImageDef, InputDef, TokenScope } from '../config/model.js';
import type { RunStatus } from './status.js';

export type EventType = 'push' | 'pr_update' | 'manual' | 'restart';
export type ArtifactStatus = 'registered' | 'success' | 'failed' | 'missing';

/** Epoch milliseconds; the API layer turns them into RFC 3339 strings. */
export interface Dates {
  createdAt: number;
  startedAt?: number;
  finishedAt?: number;
  updatedAt: number;
}

export interface ArtifactFile {
  path: string;
  size: number;
  sha256: string;
}

/** One declared `artifacts.paths` entry of a cube and what was stored for it. */
export interface ArtifactRecord {
  id: string;
  localPath: string;
  status: ArtifactStatus;
  registeredAt: number;
  obtainedAt?: number;
  updatedAt: number;
  files: ArtifactFile[];
  /** Where the stored copy lives (a directory or file in the artifact store). */
  location?: string;
  error?: string;
}

/** What a cube runs, as the config said (expressions not yet substituted). */
export interface CubeSpec {
  script?: string[];
  image?: ImageDef;
  /** A GitHub Action cube: the action reference and its inputs. */
  action?: string;
  with?: Record<string, string>;
  env: Record<string, string>;
  artifacts: string[];
}

export interface CubeRun {
  id: string;
  slug: string;
  status: RunStatus;
  dates: Dates;
  needs: string[];
  allowFailure: boolean;
  artifacts: ArtifactRecord[];
  outputs: Record<string, string>;
  exitCode?: number;
  errorMessage?: string;
  spec: CubeSpec;
  version: number;
}

export interface TaskSpec {
  env: Record<string, string>;
  /** Output name -> expression, evaluated when the task ends. */
  outputs: Record<string, string>;
  runsOn: string[];
}

export interface TaskRun {
  id: string;
  slug: string;
  status: RunStatus;
  dates: Dates;
  needs: string[];
  /** Evaluated task outputs. */
  outputs: Record<string, string>;
  spec: TaskSpec;
  cubes: CubeRun[];
  version: number;
}

export interface WorkflowSpec {
  env: Record<string, string>;
  maxCubeDurationMs: number;
  checkout: CheckoutDef;
  runsOn: string[];
  /** Input values after defaults were applied. */
  inputs: Record<string, string>;
}

export interface WorkflowRun {
  id: string;
  slug: string;
  status: RunStatus;
  dates: Dates;
  spec: WorkflowSpec;
  tasks: TaskRun[];
  version: number;
}

export interface CommitInfo {
  sha: string;
  ref: string;
  author: string;
  message: string;
  /** RFC 3339, UTC. */
  timestamp: string;
}

/** Where and why the run happens: the commit, the event and what came before it. */
export interface RunContext {
  commit?: CommitInfo;
  baseSha?: string;
  baseRef?: string;
  /** Global `env:` of the config. */
  env: Record<string, string>;
  configFile: string;
  repoUrl?: string;
  pullSlug?: string;
  /** What started the run beyond `eventType` (SourceCraft's enum has no schedule or poll). */
  trigger?: 'api' | 'webhook' | 'poll' | 'schedule' | 'restart' | 'deployment';
  /** Deployment runs: files copied into every task workspace (the release's artifacts). */
  attachDir?: string;
  /** Deployment runs: the environment whose secrets the run also gets. */
  environmentId?: string;
  /** For restarts: the run this one restarts. */
  restartOf?: string;
  /** `org/repo` (GITHUB_REPOSITORY, id token claims); `conveyor run` names the directory. */
  repoPath?: string;
  /** The config's `tokens:`, by name. */
  tokens?: Record<string, { serviceConnection: string; scope: TokenScope }>;
  /** The config's warnings, as `file:line:col: message`. */
  warnings?: string[];
}

export interface UserRef {
  id: string;
  slug: string;
}

export interface RunRecord {
  id: string;
  repoId: string;
  /** Per-repository counter, assigned by the store. */
  slug: string;
  status: RunStatus;
  dates: Dates;
  eventType: EventType;
  errorMessages: string[];
  user?: UserRef;
  context: RunContext;
  workflows: WorkflowRun[];
  version: number;
}

export type { InputDef };
