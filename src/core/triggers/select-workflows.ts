import type { Triggers } from '../config/model.js';
import { matchesAnyPath, matchesFilter } from './filters.js';

/** A ref update of the repository. `changedPaths` is undefined when unknown (a new branch, a force push). */
export interface PushEvent {
  kind: 'push';
  branch?: string;
  tag?: string;
  changedPaths?: string[];
}

export interface PullRequestEvent {
  kind: 'pull_request';
  sourceBranch: string;
  targetBranch: string;
  changedPaths?: string[];
}

export type GitEvent = PushEvent | PullRequestEvent;

/**
 * The workflows an event starts, in config order of their first matching rule, each once.
 * A rule without a filter matches every branch (and no tag: tags run only where `tags` asks for them).
 * Unknown changed paths match any `paths` filter: running too much beats silently running nothing.
 */
export function selectWorkflows(triggers: Triggers, event: GitEvent): string[] {
  const names: string[] = [];
  const add = (workflows: string[]) => {
    for (const name of workflows) if (!names.includes(name)) names.push(name);
  };
  const pathsMatch = (paths: string[] | undefined) =>
    !paths || event.changedPaths === undefined || matchesAnyPath(paths, event.changedPaths);
  if (event.kind === 'push') {
    for (const rule of triggers.push) {
      const refMatches =
        event.tag !== undefined
          ? rule.tags !== undefined && matchesFilter(rule.tags, event.tag)
          : event.branch !== undefined &&
            (rule.branches === undefined
              ? rule.tags === undefined
              : matchesFilter(rule.branches, event.branch));
      if (refMatches && pathsMatch(rule.paths)) add(rule.workflows);
    }
    return names;
  }
  for (const rule of triggers.pullRequest) {
    const source = !rule.sourceBranches || matchesFilter(rule.sourceBranches, event.sourceBranch);
    const target = !rule.targetBranches || matchesFilter(rule.targetBranches, event.targetBranch);
    if (source && target && pathsMatch(rule.paths)) add(rule.workflows);
  }
  return names;
}
