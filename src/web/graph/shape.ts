/** The run graph's geometry: pure (no DOM), so benchmarks time it in Node. */
import type { Run, Task, Workflow } from '../lib/types.js';
import { layeredLayout } from './layout.js';

export const TASK_W = 232;
export const HEAD_H = 30;
export const ROW_H = 26;
const PAD = 6;

/** Keys of the graph's nodes: `w/t` for a task, `w/t/c` for a cube. */
export interface Shape {
  workflows: {
    slug: string;
    top: number;
    height: number;
    width: number;
    tasks: { slug: string; x: number; y: number; height: number; collapsed: boolean; cubes: string[] }[];
    edges: { from: string; to: string; d: string }[];
    cubeEdges: { d: string; from: string; to: string }[];
  }[];
  width: number;
  height: number;
  /** upstream and downstream of every key */
  related: (key: string) => Set<string> | undefined;
}

/** Only structure goes in (slugs, needs, collapsed/filtered sets): statuses never move a node. */
export function shapeOf(run: Run, collapsed: ReadonlySet<string>, visible?: ReadonlySet<string>): Shape {
  const workflows: Shape['workflows'] = [];
  let top = 0;
  let width = 0;
  for (const w of run.workflows) {
    const tasks = w.tasks.filter((t) => !visible || visible.has(`${w.slug}/${t.slug}`));
    const index = new Map(tasks.map((t, i) => [t.slug, i]));
    const cubeOrder = tasks.map((t) => (collapsed.has(`${w.slug}/${t.slug}`) ? [] : orderCubes(t)));
    const heights = tasks.map((_, i) => HEAD_H + (cubeOrder[i]?.length ?? 0) * ROW_H + PAD);
    const edges: [number, number][] = [];
    tasks.forEach((t, v) =>
      t.relations.needs.forEach((n) => {
        const u = index.get(n.name);
        if (u !== undefined) edges.push([u, v]);
      }),
    );
    const layout = layeredLayout({ heights, edges, width: TASK_W });
    const placed = tasks.map((t, i) => ({
      slug: t.slug,
      x: layout.x[i] ?? 0,
      y: top + 28 + (layout.y[i] ?? 0),
      height: heights[i] ?? HEAD_H,
      collapsed: collapsed.has(`${w.slug}/${t.slug}`),
      cubes: cubeOrder[i] ?? [],
    }));
    const key = (i: number) => `${w.slug}/${tasks[i]?.slug ?? ''}`;
    const wfEdges = layout.paths.map((p) => ({
      from: key(p.from),
      to: key(p.to),
      d: curve(p.points.map(([x, y]) => [x, y + top + 28])),
    }));
    const cubeEdges: Shape['workflows'][number]['cubeEdges'] = [];
    placed.forEach((t, i) => {
      const task = tasks[i];
      if (!task) return;
      const row = new Map(t.cubes.map((c, r) => [c, r]));
      for (const c of task.cubes)
        for (const n of c.relations.needs) {
          const a = row.get(n.name);
          const b = row.get(c.slug);
          if (a === undefined || b === undefined) continue;
          const ya = t.y + HEAD_H + a * ROW_H + ROW_H / 2;
          const yb = t.y + HEAD_H + b * ROW_H + ROW_H / 2;
          const x = t.x + 9;
          const bend = Math.min(8, 3 + (b - a) * 2);
          cubeEdges.push({
            from: `${key(i)}/${n.name}`,
            to: `${key(i)}/${c.slug}`,
            d: `M${x + 3},${ya} C${x - bend},${ya} ${x - bend},${yb} ${x + 3},${yb}`,
          });
        }
    });
    workflows.push({
      slug: w.slug,
      top,
      height: layout.height + 40,
      width: layout.width,
      tasks: placed,
      edges: wfEdges,
      cubeEdges,
    });
    top += layout.height + 56;
    width = Math.max(width, layout.width);
  }
  return { workflows, width: width + 16, height: Math.max(top, 40), related: relations(run) };
}

/** Cubes in their need order (by depth within the task), declared order otherwise. */
function orderCubes(t: Task): string[] {
  const depth = new Map<string, number>();
  const byName = new Map(t.cubes.map((c) => [c.slug, c]));
  const visit = (slug: string, seen: Set<string>): number => {
    const known = depth.get(slug);
    if (known !== undefined) return known;
    if (seen.has(slug)) return 0;
    seen.add(slug);
    const needs = byName.get(slug)?.relations.needs ?? [];
    const d = needs.reduce((m, n) => (byName.has(n.name) ? Math.max(m, visit(n.name, seen) + 1) : m), 0);
    depth.set(slug, d);
    return d;
  };
  return t.cubes
    .map((c, i) => ({ slug: c.slug, d: visit(c.slug, new Set()), i }))
    .sort((a, b) => a.d - b.d || a.i - b.i)
    .map((c) => c.slug);
}

/**
 * Upstream and downstream of a task (`w/t`) or cube (`w/t/c`), worked out when first asked (on
 * hover or focus), so drawing a big run does not pay for every node's relations.
 */
function relations(run: Run): (key: string) => Set<string> | undefined {
  const memo = new Map<string, Set<string>>();
  const closure = (start: string, step: (s: string) => string[]) => {
    const out = new Set<string>();
    const stack = [start];
    while (stack.length)
      for (const n of step(stack.pop() ?? ''))
        if (!out.has(n)) {
          out.add(n);
          stack.push(n);
        }
    return out;
  };
  const ofTask = (w: Workflow, t: Task) => {
    const needs = new Map(w.tasks.map((x) => [x.slug, x.relations.needs.map((n) => n.name)]));
    const dependents = (s: string) =>
      w.tasks.filter((x) => needs.get(x.slug)?.includes(s)).map((x) => x.slug);
    const set = new Set<string>([`${w.slug}/${t.slug}`]);
    for (const s of [...closure(t.slug, (x) => needs.get(x) ?? []), ...closure(t.slug, dependents)]) {
      set.add(`${w.slug}/${s}`);
      for (const c of w.tasks.find((x) => x.slug === s)?.cubes ?? []) set.add(`${w.slug}/${s}/${c.slug}`);
    }
    return set;
  };
  const ofCube = (w: Workflow, t: Task, cube: string) => {
    const mine = ofTask(w, t);
    for (const other of t.cubes) mine.delete(`${w.slug}/${t.slug}/${other.slug}`);
    mine.add(`${w.slug}/${t.slug}/${cube}`);
    const cubeNeeds = new Map(t.cubes.map((c) => [c.slug, c.relations.needs.map((n) => n.name)]));
    const up = closure(cube, (x) => cubeNeeds.get(x) ?? []);
    const down = closure(cube, (x) =>
      t.cubes.filter((o) => cubeNeeds.get(o.slug)?.includes(x)).map((o) => o.slug),
    );
    for (const s of [...up, ...down]) mine.add(`${w.slug}/${t.slug}/${s}`);
    return mine;
  };
  return (key) => {
    const known = memo.get(key);
    if (known) return known;
    const [ws, ts, cs] = key.split('/');
    const w = run.workflows.find((x) => x.slug === ws);
    const t = w?.tasks.find((x) => x.slug === ts);
    if (!w || !t) return undefined;
    const set = cs === undefined ? ofTask(w, t) : ofCube(w, t, cs);
    memo.set(key, set);
    return set;
  };
}

function curve(points: [number, number][]): string {
  const [first, ...rest] = points;
  if (!first) return '';
  let d = `M${first[0]},${first[1]}`;
  let prev = first;
  for (const p of rest) {
    const mx = (prev[0] + p[0]) / 2;
    d += ` C${mx},${prev[1]} ${mx},${p[1]} ${p[0]},${p[1]}`;
    prev = p;
  }
  return d;
}
