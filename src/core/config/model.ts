import type { Pos } from './diagnostics.js';

/** A string value from the config that may hold `${{ ... }}` expressions, with where it was written. */
export interface ExprSite {
  pos: Pos;
  text: string;
  /** Position of each character offset of `text` in the file (block scalars span lines). */
  at(offset: number): Pos;
}

export type InputType = 'string' | 'boolean' | 'number';

export interface InputDef {
  name: string;
  type: InputType;
  required: boolean;
  default?: string;
  description?: string;
}

export interface CheckoutDef {
  enabled: boolean;
  fetchDepth?: number;
  removeCredentials: boolean;
}

export interface ImageDef {
  name: string;
  username?: string;
  password?: string;
  /** `undefined`: the image's own entrypoint; `[]`: cleared (`entrypoint: ""`). */
  entrypoint?: string[];
  args?: string[];
}

export interface CubeDef {
  name: string;
  pos: Pos;
  script?: string[];
  image?: ImageDef;
  env: Record<string, string>;
  /** Resolved: a cube without `needs` follows the cube before it; `['-']` is none. */
  needs: string[];
  /** Where each entry of `needs` was written (the cube itself for implicit ones). */
  needsAt: Pos[];
  artifacts: string[];
  allowFailure: boolean;
  /** A GitHub Action cube: `owner/repo[/path]@ref` (or `./path`, or a git URL `@ref`). */
  action?: string;
  /** The action's inputs (`with:`), values as written. */
  with?: Record<string, string>;
  sites: ExprSite[];
}

export interface TaskDef {
  name: string;
  pos: Pos;
  env: Record<string, string>;
  needs: string[];
  needsAt: Pos[];
  outputs: Record<string, string>;
  runsOn: string[];
  cubes: CubeDef[];
  sites: ExprSite[];
}

export interface WorkflowDef {
  name: string;
  pos: Pos;
  env: Record<string, string>;
  maxCubeDurationMs: number;
  shared: boolean;
  runsOn: string[];
  inputs: InputDef[];
  checkout: CheckoutDef;
  tasks: TaskDef[];
  sites: ExprSite[];
}

export interface PushRule {
  workflows: string[];
  branches?: string[];
  tags?: string[];
  paths?: string[];
}

export interface PullRequestRule {
  workflows: string[];
  sourceBranches?: string[];
  targetBranches?: string[];
  paths?: string[];
}

export interface ScheduleRule {
  workflows: string[];
  cron?: string;
  intervalMs?: number;
  description?: string;
}

export interface Triggers {
  push: PushRule[];
  pullRequest: PullRequestRule[];
  schedule: ScheduleRule[];
}

/** Who may use an id token: every repository of the org, this repository, or this ref. */
export type TokenScope = 'org' | 'repo' | 'ref';

/** A top-level `tokens:` entry: an OIDC id token minted per task for a service connection. */
export interface TokenDef {
  name: string;
  serviceConnection: string;
  scope: TokenScope;
  pos: Pos;
}

export interface CiConfig {
  file: string;
  env: Record<string, string>;
  tokens: TokenDef[];
  triggers: Triggers;
  workflows: WorkflowDef[];
  sites: ExprSite[];
}

export const DEFAULT_MAX_CUBE_DURATION_MS = 5 * 60 * 1000;
