import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Value } from '../../core/actions/expr.js';
import type { CubeRun, RunRecord, TaskRun, WorkflowRun } from '../../core/run/model.js';
import type { TaskDirs } from '../../ports/workspace-provider.js';

export interface RunnerPlace {
  run: RunRecord;
  workflow: WorkflowRun;
  task: TaskRun;
  cube: CubeRun;
  dirs: TaskDirs;
  /** GITHUB_SERVER_URL: where actions come from (CONVEYOR_ACTIONS_URL). */
  serverUrl: string;
}

/** What GitHub's runner sets that an action may read, computed once per cube. */
export interface RunnerVars {
  env: Record<string, string>;
  /** The `github` and `runner` expression contexts. */
  github: Record<string, Value>;
  runner: Record<string, Value>;
  temp: string;
}

/** GitHub's event names for SourceCraft's events. */
function eventName(run: RunRecord): string {
  if (run.context.trigger === 'schedule') return 'schedule';
  if (run.eventType === 'push') return 'push';
  if (run.eventType === 'pr_update') return 'pull_request';
  return 'workflow_dispatch';
}

function arch(): string {
  const map: Record<string, string> = { x64: 'X64', arm64: 'ARM64', arm: 'ARM', ia32: 'X86' };
  return map[process.arch] ?? process.arch.toUpperCase();
}

/** API URLs the way GitHub Enterprise lays them out, or github.com's own. */
function apiUrls(server: string): { api: string; graphql: string } {
  if (/^https:\/\/github\.com\/?$/.test(server))
    return { api: 'https://api.github.com', graphql: 'https://api.github.com/graphql' };
  const base = server.replace(/\/+$/, '');
  return { api: `${base}/api/v3`, graphql: `${base}/api/graphql` };
}

/**
 * GITHUB_* and RUNNER_* variables and the matching contexts. GITHUB_WORKSPACE is the task's
 * workspace; RUNNER_TEMP and RUNNER_TOOL_CACHE are folders of the task directory (gone with it);
 * GITHUB_EVENT_PATH is a small event payload in GitHub's shape. There is no GITHUB_TOKEN.
 */
export function runnerVars(place: RunnerPlace): RunnerVars {
  const { run, workflow, task, cube, dirs } = place;
  const commit = run.context.commit;
  const ref = commit?.ref ?? '';
  const repository = run.context.repoPath ?? 'local/repository';
  const owner = repository.split('/')[0] ?? '';
  const temp = join(dirs.root, '_temp');
  const toolCache = join(dirs.root, '_tool');
  mkdirSync(join(temp, '_github_workflow'), { recursive: true });
  mkdirSync(toolCache, { recursive: true });
  const event = eventName(run);
  const eventPath = join(temp, '_github_workflow', 'event.json');
  writeFileSync(eventPath, JSON.stringify(eventPayload(run, event, repository, owner), null, 2));
  const urls = apiUrls(place.serverUrl);
  const actor = run.user?.slug ?? 'conveyor';
  const pr = run.eventType === 'pr_update';
  const env: Record<string, string> = {
    CI: 'true',
    GITHUB_ACTIONS: 'true',
    GITHUB_WORKSPACE: dirs.workspace,
    GITHUB_REPOSITORY: repository,
    GITHUB_REPOSITORY_OWNER: owner,
    GITHUB_SHA: commit?.sha ?? '',
    GITHUB_REF: ref,
    GITHUB_REF_NAME: ref.replace(/^refs\/(heads|tags)\//, ''),
    GITHUB_REF_TYPE: ref.startsWith('refs/tags/') ? 'tag' : 'branch',
    GITHUB_HEAD_REF: pr ? ref.replace(/^refs\/heads\//, '') : '',
    GITHUB_BASE_REF: pr ? (run.context.baseRef ?? '') : '',
    GITHUB_EVENT_NAME: event,
    GITHUB_EVENT_PATH: eventPath,
    GITHUB_RUN_ID: run.slug,
    GITHUB_RUN_NUMBER: run.slug,
    GITHUB_RUN_ATTEMPT: '1',
    GITHUB_WORKFLOW: workflow.slug,
    GITHUB_JOB: task.slug,
    GITHUB_ACTION: cube.slug,
    GITHUB_ACTOR: actor,
    GITHUB_TRIGGERING_ACTOR: actor,
    GITHUB_SERVER_URL: place.serverUrl,
    GITHUB_API_URL: urls.api,
    GITHUB_GRAPHQL_URL: urls.graphql,
    GITHUB_RETENTION_DAYS: '14',
    RUNNER_OS: 'Linux',
    RUNNER_ARCH: arch(),
    RUNNER_NAME: 'conveyor',
    RUNNER_ENVIRONMENT: 'self-hosted',
    RUNNER_TEMP: temp,
    RUNNER_TOOL_CACHE: toolCache,
    RUNNER_WORKSPACE: dirs.root,
  };
  const github: Record<string, Value> = {
    token: '',
    repository,
    repository_owner: owner,
    sha: env.GITHUB_SHA ?? '',
    ref,
    ref_name: env.GITHUB_REF_NAME ?? '',
    ref_type: env.GITHUB_REF_TYPE ?? '',
    head_ref: env.GITHUB_HEAD_REF ?? '',
    base_ref: env.GITHUB_BASE_REF ?? '',
    event_name: event,
    event: eventPayload(run, event, repository, owner),
    event_path: eventPath,
    workspace: dirs.workspace,
    run_id: run.slug,
    run_number: run.slug,
    run_attempt: '1',
    workflow: workflow.slug,
    job: task.slug,
    action: cube.slug,
    actor,
    triggering_actor: actor,
    server_url: place.serverUrl,
    api_url: urls.api,
    graphql_url: urls.graphql,
    retention_days: '14',
  };
  const runner: Record<string, Value> = {
    os: 'Linux',
    arch: arch(),
    name: 'conveyor',
    environment: 'self-hosted',
    temp,
    tool_cache: toolCache,
    debug: '',
  };
  return { env, github, runner, temp };
}

function eventPayload(
  run: RunRecord,
  event: string,
  repository: string,
  owner: string,
): Record<string, Value> {
  const commit = run.context.commit;
  const repo = {
    full_name: repository,
    name: repository.split('/')[1] ?? repository,
    owner: { login: owner, name: owner },
    clone_url: run.context.repoUrl ?? '',
  };
  if (event === 'pull_request') {
    const number = Number(run.context.pullSlug ?? 0);
    return {
      action: 'synchronize',
      number,
      pull_request: {
        number,
        head: { ref: (commit?.ref ?? '').replace(/^refs\/heads\//, ''), sha: commit?.sha ?? '' },
        base: { ref: run.context.baseRef ?? '', sha: run.context.baseSha ?? '' },
      },
      repository: repo,
    };
  }
  const headCommit = commit
    ? {
        id: commit.sha,
        message: commit.message,
        timestamp: commit.timestamp,
        author: { name: commit.author },
      }
    : null;
  if (event === 'push')
    return {
      ref: commit?.ref ?? '',
      before: run.context.baseSha ?? '',
      after: commit?.sha ?? '',
      head_commit: headCommit,
      repository: repo,
    };
  return { ref: commit?.ref ?? '', inputs: {}, repository: repo };
}
