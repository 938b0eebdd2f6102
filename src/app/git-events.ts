import { CONFIG_PATHS } from './load-config.js';
import type { RunRecord, UserRef } from '../core/run/model.js';
import { selectWorkflows, type GitEvent } from '../core/triggers/select-workflows.js';
import type { Repo } from '../ports/directory-store.js';
import { createRun, loadRepoConfig, type RunServices } from './create-run.js';

export interface PushNotice {
  /** Full ref: `refs/heads/main`, `refs/tags/v1`. */
  ref: string;
  before: string;
  after: string;
  user?: UserRef;
}

export interface PullRequestNotice {
  number: string;
  sourceBranch: string;
  targetBranch: string;
  headSha: string;
  user?: UserRef;
}

const ZERO = /^0+$/;

/**
 * A ref update: fetches the repository, matches the `on.push` rules of the default branch's config
 * (as SourceCraft does) and stores one run with every workflow that matched, or none.
 */
export async function handlePush(
  services: RunServices,
  repo: Repo,
  notice: PushNotice,
  trigger: 'webhook' | 'poll',
): Promise<RunRecord | undefined> {
  if (ZERO.test(notice.after)) return undefined; // a deleted branch or tag runs nothing
  // A poll fetched just now; a webhook announces a push this mirror has not seen yet.
  await services.mirrors.sync(repo.id, repo.cloneUrl, trigger === 'poll' ? 2000 : 0);
  const tag = /^refs\/tags\/(.+)$/.exec(notice.ref)?.[1];
  const branch = /^refs\/heads\/(.+)$/.exec(notice.ref)?.[1];
  if (tag === undefined && branch === undefined) return undefined;
  const changed = await services.mirrors.changedPaths(repo.id, notice.before, notice.after);
  const event: GitEvent = {
    kind: 'push',
    ...(tag !== undefined ? { tag } : { branch: branch as string }),
    ...(changed ? { changedPaths: changed } : {}),
  };
  const head = { ...(await services.mirrors.resolve(repo.id, { commit: notice.after })), ref: notice.ref };
  return startForEvent(services, repo, event, {
    eventType: 'push',
    trigger,
    head,
    ...(notice.user ? { user: notice.user } : {}),
    ...(ZERO.test(notice.before) ? {} : { baseSha: notice.before }),
  });
}

/** A pull request opened or updated: matches `on.pull_request` rules; the run has `event_type: pr_update`. */
export async function handlePullRequest(
  services: RunServices,
  repo: Repo,
  notice: PullRequestNotice,
): Promise<RunRecord | undefined> {
  await services.mirrors.sync(repo.id, repo.cloneUrl);
  const target = await services.mirrors
    .resolve(repo.id, { branch: notice.targetBranch })
    .catch(() => undefined);
  const changed = target
    ? await services.mirrors.changedPaths(repo.id, target.sha, notice.headSha)
    : undefined;
  const event: GitEvent = {
    kind: 'pull_request',
    sourceBranch: notice.sourceBranch,
    targetBranch: notice.targetBranch,
    ...(changed ? { changedPaths: changed } : {}),
  };
  const head = {
    ...(await services.mirrors.resolve(repo.id, { commit: notice.headSha })),
    ref: `refs/heads/${notice.sourceBranch}`,
  };
  return startForEvent(services, repo, event, {
    eventType: 'pr_update',
    trigger: 'webhook',
    head,
    pullSlug: notice.number,
    ...(target ? { baseSha: target.sha } : {}),
    ...(notice.user ? { user: notice.user } : {}),
  });
}

async function startForEvent(
  services: RunServices,
  repo: Repo,
  event: GitEvent,
  request: Omit<Parameters<typeof createRun>[2], 'configSha' | 'workflows'>,
): Promise<RunRecord | undefined> {
  const base = await services.mirrors
    .resolve(repo.id, { branch: repo.defaultBranch }, CONFIG_PATHS)
    .catch(() => undefined);
  const configSha = base?.sha ?? request.head.sha;
  const loaded = await loadRepoConfig(services.mirrors, repo, configSha);
  if (!loaded.config) {
    // A config that does not parse still gets a (failed) run, so the pusher sees why; no config at all runs nothing.
    if (loaded.found)
      return createRun(services, repo, { ...request, configSha, loaded, workflows: [] }, false);
    services.onEventSkipped?.(repo, request.head, `no ${loaded.file}`);
    return undefined;
  }
  const names = selectWorkflows(loaded.config.triggers, event);
  if (names.length === 0) {
    services.onEventSkipped?.(repo, request.head, `no workflow's on: rule in ${loaded.file} matches`);
    return undefined;
  }
  return createRun(
    services,
    repo,
    { ...request, configSha, loaded, workflows: names.map((name) => ({ name, inputs: {} })) },
    false,
  );
}
