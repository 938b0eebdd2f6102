import { isMap, isScalar } from 'yaml';
import type { Decoder, Entry } from './decoder.js';
import { didYouMean, type Pos } from './diagnostics.js';
import { parseDuration } from './duration.js';
import type { PullRequestRule, PushRule, ScheduleRule, Triggers } from './model.js';

type Item = { value: Entry['value']; pos: Pos };

/** Decodes `on:`. Without it, every workflow runs on every push. */
export function decodeTriggers(d: Decoder, entry: Entry | undefined, workflowNames: string[]): Triggers {
  const all = [...workflowNames];
  if (!entry) {
    const triggers = { push: [{ workflows: all }], pullRequest: [], schedule: [] };
    checkRunLimit(d, triggers, {});
    return triggers;
  }
  const triggers: Triggers = { push: [], pullRequest: [], schedule: [] };
  const entries = d.entries(entry.value, 'on', entry.pos) ?? [];
  const check = (names: string[], pos: Pos): string[] => {
    for (const name of names) {
      if (!workflowNames.includes(name)) {
        d.bag.error(
          pos,
          `trigger names workflow '${name}', which is not defined`,
          didYouMean(name, workflowNames) ?? `defined workflows: ${workflowNames.join(', ')}`,
        );
      }
    }
    return names;
  };
  for (const e of entries) {
    if (e.key === 'push') triggers.push = decodePush(d, e, all, check);
    else if (e.key === 'pull_request') triggers.pullRequest = decodePullRequest(d, e, all, check);
    else if (e.key === 'schedule') triggers.schedule = decodeSchedule(d, e, check);
    else {
      const hint =
        e.key === 'workflow_dispatch'
          ? 'manual runs need no trigger: start them with `conveyor run` or the API'
          : (didYouMean(e.key, ['push', 'pull_request', 'schedule']) ??
            'known triggers: push, pull_request, schedule');
      d.bag.warning(e.keyPos, `unknown trigger '${e.key}'; it is ignored`, hint);
    }
  }
  checkRunLimit(d, triggers, Object.fromEntries(entries.map((e) => [e.key, e.keyPos])));
  return triggers;
}

/** SourceCraft's limit of workflows in one CI run (limits table: "Workflows per CI run"). */
export const SOURCECRAFT_WORKFLOWS_PER_RUN = 3;

/**
 * Warns where one event can start more workflows than SourceCraft runs at once: Conveyor runs them
 * all, SourceCraft would not. Branch pushes, tag pushes and pull requests are counted apart (as
 * selectWorkflows matches them); each schedule rule fires on its own.
 */
function checkRunLimit(d: Decoder, t: Triggers, at: Record<string, Pos>): void {
  const union = (lists: string[][]) => [...new Set(lists.flat())];
  const groups: [string, string, string[]][] = [
    [
      'push',
      'a push to a branch',
      union(t.push.filter((r) => r.branches || !r.tags).map((r) => r.workflows)),
    ],
    ['push', 'a push of a tag', union(t.push.filter((r) => r.tags).map((r) => r.workflows))],
    ['pull_request', 'a pull request', union(t.pullRequest.map((r) => r.workflows))],
    ...t.schedule.map((r): [string, string, string[]] => ['schedule', 'a schedule rule', r.workflows]),
  ];
  const max = SOURCECRAFT_WORKFLOWS_PER_RUN;
  for (const [key, what, names] of groups) {
    if (names.length <= max) continue;
    d.bag.warning(
      at[key] ?? { line: 1, column: 1 },
      `${what} starts ${names.length} workflows (${names.join(', ')}); SourceCraft runs at most ${max} in one run`,
      `Conveyor runs them all; to stay within SourceCraft's limit, start fewer workflows per event${at[key] ? '' : ' (without on:, every push starts every workflow)'}`,
    );
  }
}

type Check = (names: string[], pos: Pos) => string[];

function isEmpty(value: Entry['value']): boolean {
  return value === null || (isScalar(value) && value.value === null);
}

/** Items of a short form (a name or a list of names) become one rule each; maps are long-form rules. */
function ruleItems(d: Decoder, e: Entry): { names?: string[]; map?: Item; pos: Pos }[] {
  return d.list(e).map((item) => {
    if (isMap(item.value)) return { map: item, pos: item.pos };
    const name = d.name(item, `workflow name in on.${e.key}`);
    return { names: name ? [name] : [], pos: item.pos };
  });
}

function ruleFields(d: Decoder, item: Item, key: string, allowed: string[], check: Check, all: string[]) {
  const entries = d.entries(item.value, `on.${key} rule`, item.pos) ?? [];
  d.checkKeys(
    entries,
    ['workflows', 'filter', 'interval', 'cron', 'description'].filter((k) => allowed.includes(k)),
    `on.${key} rule`,
  );
  const wf = entries.find((x) => x.key === 'workflows');
  const workflows = wf ? check(d.stringList(wf, 'workflows') ?? [], wf.pos) : all;
  const filterEntry = entries.find((x) => x.key === 'filter');
  return { entries, workflows, filterEntry };
}

function decodeFilter(d: Decoder, entry: Entry | undefined, keys: string[]): Record<string, string[]> {
  if (!entry) return {};
  const entries = d.entries(entry.value, 'filter', entry.pos) ?? [];
  d.checkKeys(entries, keys, 'filter');
  const out: Record<string, string[]> = {};
  for (const e of entries) {
    if (!keys.includes(e.key)) continue;
    const patterns = d.stringList(e, `filter.${e.key}`);
    if (!patterns) continue;
    if (patterns.length > 0 && patterns.every((p) => p.startsWith('!'))) {
      d.bag.warning(
        e.pos,
        `filter.${e.key} has only negated patterns, so it matches nothing`,
        'put "**" first: ["**", "!docs/**"]',
      );
    }
    out[e.key] = patterns;
  }
  return out;
}

function decodePush(d: Decoder, e: Entry, all: string[], check: Check): PushRule[] {
  if (isEmpty(e.value)) return [{ workflows: all }];
  return ruleItems(d, e).map((item): PushRule => {
    if (item.names) return { workflows: check(item.names, item.pos) };
    const { workflows, filterEntry } = ruleFields(
      d,
      item.map as Item,
      'push',
      ['workflows', 'filter'],
      check,
      all,
    );
    const f = decodeFilter(d, filterEntry, ['branches', 'tags', 'paths']);
    return {
      workflows,
      ...(f.branches ? { branches: f.branches } : {}),
      ...(f.tags ? { tags: f.tags } : {}),
      ...(f.paths ? { paths: f.paths } : {}),
    };
  });
}

function decodePullRequest(d: Decoder, e: Entry, all: string[], check: Check): PullRequestRule[] {
  if (isEmpty(e.value)) return [{ workflows: all }];
  return ruleItems(d, e).map((item): PullRequestRule => {
    if (item.names) return { workflows: check(item.names, item.pos) };
    const { workflows, filterEntry } = ruleFields(
      d,
      item.map as Item,
      'pull_request',
      ['workflows', 'filter'],
      check,
      all,
    );
    const f = decodeFilter(d, filterEntry, ['source_branches', 'target_branches', 'paths']);
    return {
      workflows,
      ...(f.source_branches ? { sourceBranches: f.source_branches } : {}),
      ...(f.target_branches ? { targetBranches: f.target_branches } : {}),
      ...(f.paths ? { paths: f.paths } : {}),
    };
  });
}

const CRON_FIELD = /^(\*|\d+(-\d+)?)(\/\d+)?(,(\*|\d+(-\d+)?)(\/\d+)?)*$/;

function decodeSchedule(d: Decoder, e: Entry, check: Check): ScheduleRule[] {
  const rules: ScheduleRule[] = [];
  for (const item of d.list(e)) {
    const { entries, workflows } = ruleFields(
      d,
      item,
      'schedule',
      ['workflows', 'interval', 'cron', 'description'],
      check,
      [],
    );
    const rule: ScheduleRule = { workflows };
    for (const f of entries) {
      if (f.key === 'description') rule.description = d.text(f, 'description');
      else if (f.key === 'cron') {
        const cron = d.text(f, 'cron');
        const fields = cron?.trim().split(/\s+/) ?? [];
        if (cron !== undefined && (fields.length !== 5 || !fields.every((x) => CRON_FIELD.test(x)))) {
          d.bag.error(
            f.pos,
            `cron '${cron}' is not a 5-field cron expression`,
            'minute hour day-of-month month day-of-week, in UTC, e.g. "42 3 * * *"',
          );
        } else if (cron !== undefined) rule.cron = cron.trim();
      } else if (f.key === 'interval') {
        const text = d.text(f, 'interval');
        const ms = text === undefined ? undefined : parseDuration(text);
        if (text !== undefined && (ms === undefined || ms < 60_000)) {
          d.bag.error(
            f.pos,
            `interval '${text}' is not a duration of a minute or more`,
            'write e.g. 30m or 6h',
          );
        } else if (ms !== undefined) rule.intervalMs = ms;
      }
    }
    if (workflows.length === 0)
      d.bag.error(item.pos, 'schedule rule names no workflows', 'add `workflows: [name]`');
    if ((rule.cron === undefined) === (rule.intervalMs === undefined) && !d.bag.hasErrors) {
      d.bag.error(item.pos, 'schedule rule needs exactly one of cron and interval');
    }
    rules.push(rule);
  }
  return rules;
}
