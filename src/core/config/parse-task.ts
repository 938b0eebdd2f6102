import type { Node } from 'yaml';
import type { Decoder, Entry } from './decoder.js';
import { didYouMean, type Pos } from './diagnostics.js';
import type { CubeDef, ExprSite, TaskDef } from './model.js';
import { decodeCube, decodeNeeds, type NameRef, type RawCube } from './parse-cube.js';

/** A task as written, before `uses` is applied. */
export interface RawTask {
  name?: string;
  pos: Pos;
  uses?: NameRef;
  env?: Record<string, string>;
  needs?: NameRef[];
  outputs?: Record<string, string>;
  runsOn?: string[];
  cubes?: RawCube[];
  sites: ExprSite[];
}

const TASK_KEYS = ['name', 'cubes', 'env', 'needs', 'outputs', 'uses', 'runs_on', 'description'] as const;

export function decodeTask(
  d: Decoder,
  item: { value: Node | null; pos: Pos },
  where: string,
): RawTask | undefined {
  const entries = d.entries(item.value, `task in ${where}`, item.pos);
  if (!entries) return undefined;
  const task: RawTask = { pos: item.pos, sites: [] };
  const nameEntry = entries.find((e) => e.key === 'name');
  if (nameEntry) task.name = d.name(nameEntry, 'task name');
  const label = task.name ? `task '${task.name}'` : `task in ${where}`;
  d.checkKeys(entries, TASK_KEYS, label);
  for (const entry of entries) decodeTaskKey(d, task, entry, label);
  if (!task.name && !task.uses) d.bag.error(item.pos, `${label} has no name`, 'every task needs `name:`');
  if (!task.cubes && !task.uses)
    d.bag.error(item.pos, `${label} has no cubes`, 'add `cubes:` with at least one cube');
  return task;
}

function decodeTaskKey(d: Decoder, task: RawTask, entry: Entry, label: string): void {
  switch (entry.key) {
    case 'cubes':
      task.cubes = d.list(entry).flatMap((item) => decodeCube(d, item, label) ?? []);
      if (task.cubes.length === 0) d.bag.error(entry.pos, `${label} has an empty cubes list`);
      return;
    case 'env':
      task.env = d.stringMap(entry, `env of ${label}`, task.sites);
      return;
    case 'needs':
      task.needs = decodeNeeds(d, entry, label);
      return;
    case 'outputs':
      task.outputs = d.stringMap(entry, `outputs of ${label}`, task.sites);
      return;
    case 'runs_on':
      task.runsOn = d.stringList(entry, `runs_on of ${label}`);
      return;
    case 'uses': {
      const name = d.name(entry, `uses of ${label}`);
      if (name) task.uses = { name, pos: entry.pos };
      return;
    }
    default:
      return;
  }
}

/** Top-level `cubes:` and `tasks:`, by name, for `uses` and name references. */
export interface Library {
  cubes: Map<string, RawCube>;
  tasks: Map<string, RawTask>;
}

/** Applies `uses` and fills in implicit cube `needs`; reports references to unknown definitions. */
export function resolveTask(d: Decoder, raw: RawTask, lib: Library): TaskDef | undefined {
  let base: RawTask | undefined;
  if (raw.uses) {
    base = lib.tasks.get(raw.uses.name);
    if (!base) {
      d.bag.error(
        raw.uses.pos,
        `uses: '${raw.uses.name}' is not a task in the top-level tasks section`,
        didYouMean(raw.uses.name, lib.tasks.keys()) ?? 'define it under top-level `tasks:`',
      );
      return undefined;
    }
    if (raw.cubes) {
      d.bag.error(
        raw.uses.pos,
        `task '${raw.name ?? raw.uses.name}' sets both uses and cubes`,
        'cubes come from the used task and cannot be overridden',
      );
    }
  }
  const name = raw.name ?? base?.name;
  const rawCubes = base?.cubes ?? raw.cubes;
  if (!name || !rawCubes) return undefined;
  const needs = raw.needs ?? base?.needs ?? [];
  const cubes = resolveCubes(d, rawCubes, lib, name);
  return {
    name,
    pos: raw.pos,
    env: { ...base?.env, ...raw.env },
    needs: needs.map((n) => n.name),
    needsAt: needs.map((n) => n.pos),
    outputs: raw.outputs ?? base?.outputs ?? {},
    runsOn: raw.runsOn ?? base?.runsOn ?? [],
    cubes,
    sites: [...(base?.sites ?? []), ...raw.sites],
  };
}

function resolveCubes(d: Decoder, raws: RawCube[], lib: Library, taskName: string): CubeDef[] {
  const out: CubeDef[] = [];
  let previous: CubeDef | undefined;
  for (const raw of raws) {
    const cube = resolveCube(d, raw, lib, taskName, previous);
    if (!cube) continue;
    out.push(cube);
    previous = cube;
  }
  return out;
}

function resolveCube(
  d: Decoder,
  raw: RawCube,
  lib: Library,
  taskName: string,
  previous: CubeDef | undefined,
): CubeDef | undefined {
  let base: RawCube | undefined;
  if (raw.uses) {
    base = lib.cubes.get(raw.uses.name);
    if (!base) {
      d.bag.error(
        raw.uses.pos,
        `uses: '${raw.uses.name}' is not a cube in the top-level cubes section`,
        didYouMean(raw.uses.name, lib.cubes.keys()) ?? 'define it under top-level `cubes:`',
      );
      return undefined;
    }
  }
  const name = raw.name ?? base?.name;
  if (!name) return undefined;
  const action = raw.action ?? (raw.script || raw.image ? undefined : base?.action);
  const script = raw.script ?? (action ? undefined : base?.script);
  const image = raw.image ?? (action ? undefined : base?.image);
  if (!script && !image && !action) {
    d.bag.error(
      raw.pos,
      `cube '${name}' in task '${taskName}' has neither script nor image`,
      'add `script:` with the commands to run (or `action: owner/repo@ref` for a GitHub Action)',
    );
  }
  const withValues = action ? (raw.with ?? base?.with) : undefined;
  const needs = raw.needs ?? base?.needs;
  const implicit = needs === undefined;
  return {
    name,
    pos: raw.pos,
    ...(script ? { script } : {}),
    ...(image ? { image } : {}),
    env: { ...base?.env, ...raw.env },
    needs: implicit ? (previous ? [previous.name] : []) : needs.map((n) => n.name),
    needsAt: implicit ? (previous ? [raw.pos] : []) : needs.map((n) => n.pos),
    artifacts: raw.artifacts ?? base?.artifacts ?? [],
    allowFailure: raw.allowFailure ?? base?.allowFailure ?? false,
    ...(action ? { action, with: withValues ?? {} } : {}),
    sites: [...(base?.sites ?? []), ...raw.sites],
  };
}
