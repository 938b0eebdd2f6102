import { isMap, isScalar, isSeq } from 'yaml';
import type { Decoder, Entry } from './decoder.js';
import { didYouMean } from './diagnostics.js';
import { parseDuration } from './duration.js';
import {
  DEFAULT_MAX_CUBE_DURATION_MS,
  type CheckoutDef,
  type ExprSite,
  type InputDef,
  type TaskDef,
  type WorkflowDef,
} from './model.js';
import { decodeTask, resolveTask, type Library } from './parse-task.js';

const WORKFLOW_KEYS = ['tasks', 'settings', 'env', 'runs_on', 'inputs', 'checkout', 'description'] as const;
const RUNTIME_TAGS = ['compute', 'serverless', 'self-hosted'];

export function decodeWorkflow(d: Decoder, entry: Entry, lib: Library): WorkflowDef | undefined {
  const label = `workflow '${entry.key}'`;
  const entries = d.entries(entry.value, label, entry.pos);
  if (!entries) return undefined;
  for (const key of ['uses', 'with'] as const) {
    const e = entries.find((x) => x.key === key);
    if (e) {
      d.bag.error(
        e.keyPos,
        `${label} uses \`${key}:\` (workflow reuse), which Conveyor does not support yet`,
        'list the tasks in the workflow, or reuse top-level tasks by name',
      );
    }
  }
  d.checkKeys(
    entries.filter((e) => e.key !== 'uses' && e.key !== 'with'),
    WORKFLOW_KEYS,
    label,
  );
  const sites: ExprSite[] = [];
  const workflow: WorkflowDef = {
    name: entry.key,
    pos: entry.keyPos,
    env: {},
    maxCubeDurationMs: DEFAULT_MAX_CUBE_DURATION_MS,
    shared: false,
    runsOn: [],
    inputs: [],
    checkout: { enabled: true, removeCredentials: false },
    tasks: [],
    sites,
  };
  let tasksEntry: Entry | undefined;
  for (const e of entries) {
    if (e.key === 'env') workflow.env = d.stringMap(e, `env of ${label}`, sites) ?? {};
    else if (e.key === 'settings') decodeSettings(d, e, label, workflow);
    else if (e.key === 'runs_on') workflow.runsOn = decodeRunsOn(d, e, label);
    else if (e.key === 'inputs') workflow.inputs = decodeInputs(d, e, label);
    else if (e.key === 'checkout') workflow.checkout = decodeCheckout(d, e, label);
    else if (e.key === 'tasks') tasksEntry = e;
  }
  if (!tasksEntry) {
    d.bag.error(entry.keyPos, `${label} has no tasks`, 'add `tasks:` with at least one task');
    return workflow;
  }
  workflow.tasks = decodeWorkflowTasks(d, tasksEntry, label, lib);
  if (workflow.tasks.length === 0 && !d.bag.hasErrors)
    d.bag.error(tasksEntry.pos, `${label} has an empty tasks list`);
  return workflow;
}

function decodeWorkflowTasks(d: Decoder, entry: Entry, label: string, lib: Library): TaskDef[] {
  const out: TaskDef[] = [];
  const byName = (name: string, pos: Entry['pos']): void => {
    const raw = lib.tasks.get(name);
    if (!raw) {
      d.bag.error(
        pos,
        `${label} lists task '${name}', which is not in the top-level tasks section`,
        didYouMean(name, lib.tasks.keys()) ?? 'define it under top-level `tasks:` or write the task inline',
      );
      return;
    }
    const task = resolveTask(d, { ...raw, pos }, lib);
    if (task) out.push(task);
  };
  if (!isSeq(entry.value)) {
    d.bag.error(entry.pos, `tasks of ${label} must be a list`, 'write each task as a `- ` item under tasks:');
    return out;
  }
  for (const item of d.list(entry)) {
    if (isScalar(item.value) && typeof item.value.value === 'string') byName(item.value.value, item.pos);
    else if (isSeq(item.value)) {
      for (const inner of d.list(item)) {
        const name = d.name(inner, `task reference in ${label}`);
        if (name) byName(name, inner.pos);
      }
    } else if (isMap(item.value)) {
      const raw = decodeTask(d, item, label);
      const task = raw && resolveTask(d, raw, lib);
      if (task) out.push(task);
    } else {
      d.bag.error(
        item.pos,
        `each item of tasks in ${label} must be a task name, a list of names or a task`,
        'e.g. `- build`, `- [lint, test]` or `- name: build` with cubes',
      );
    }
  }
  return out;
}

function decodeSettings(d: Decoder, entry: Entry, label: string, workflow: WorkflowDef): void {
  const entries = d.entries(entry.value, `settings of ${label}`, entry.pos);
  if (!entries) return;
  d.checkKeys(entries, ['max_cube_duration', 'shared'], `settings of ${label}`);
  for (const e of entries) {
    if (e.key === 'shared') workflow.shared = d.bool(e, 'settings.shared') ?? false;
    if (e.key !== 'max_cube_duration') continue;
    const text = d.text(e, 'settings.max_cube_duration');
    if (text === undefined) continue;
    const ms = parseDuration(text);
    if (ms === undefined) {
      d.bag.error(
        e.pos,
        `max_cube_duration '${text}' of ${label} is not a duration`,
        'write seconds or minutes, e.g. 90s, 20m or 1h',
      );
    } else workflow.maxCubeDurationMs = ms;
  }
}

function decodeRunsOn(d: Decoder, entry: Entry, label: string): string[] {
  const tags = d.stringList(entry, `runs_on of ${label}`) ?? [];
  const runtimes = tags.filter((t) => RUNTIME_TAGS.includes(t));
  if (runtimes.length > 1) {
    d.bag.error(
      entry.pos,
      `runs_on of ${label} names ${runtimes.length} runtime tags (${runtimes.join(', ')})`,
      `use at most one of ${RUNTIME_TAGS.join(', ')}`,
    );
  }
  for (const tag of tags) {
    if (!/^[A-Za-z0-9._-]+$/.test(tag))
      d.bag.error(entry.pos, `runs_on tag '${tag}' has characters other than a-z, A-Z, 0-9, -, . and _`);
  }
  return tags;
}

function decodeInputs(d: Decoder, entry: Entry, label: string): InputDef[] {
  const entries = d.entries(entry.value, `inputs of ${label}`, entry.pos);
  if (!entries) return [];
  const out: InputDef[] = [];
  for (const e of entries) {
    const input: InputDef = { name: e.key, type: 'string', required: false };
    const fields = d.entries(e.value, `input '${e.key}' of ${label}`, e.pos) ?? [];
    d.checkKeys(fields, ['type', 'required', 'default', 'description'], `input '${e.key}'`);
    for (const f of fields) {
      if (f.key === 'required') input.required = d.bool(f, `required of input '${e.key}'`) ?? false;
      else if (f.key === 'default') input.default = d.text(f, `default of input '${e.key}'`);
      else if (f.key === 'description') input.description = d.text(f, `description of input '${e.key}'`);
      else if (f.key === 'type') {
        const type = d.name(f, `type of input '${e.key}'`);
        if (type === 'string' || type === 'boolean' || type === 'number') input.type = type;
        else if (type)
          d.bag.error(f.pos, `input '${e.key}' has unknown type '${type}'`, 'use string, boolean or number');
      }
    }
    out.push(input);
  }
  return out;
}

function decodeCheckout(d: Decoder, entry: Entry, label: string): CheckoutDef {
  const checkout: CheckoutDef = { enabled: true, removeCredentials: false };
  const entries = d.entries(entry.value, `checkout of ${label}`, entry.pos) ?? [];
  d.checkKeys(entries, ['enabled', 'fetch_depth', 'remove_credentials'], `checkout of ${label}`);
  for (const e of entries) {
    if (e.key === 'enabled') checkout.enabled = d.bool(e, 'checkout.enabled') ?? true;
    else if (e.key === 'remove_credentials')
      checkout.removeCredentials = d.bool(e, 'checkout.remove_credentials') ?? false;
    else if (e.key === 'fetch_depth') {
      const depth = d.int(e, 'checkout.fetch_depth');
      if (depth !== undefined) checkout.fetchDepth = depth;
    }
  }
  return checkout;
}
