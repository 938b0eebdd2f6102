import { signal, useComputed, useSignal } from '@preact/signals';
import { useMemo } from 'preact/hooks';
import { duration, statusLabel } from '../lib/format.js';
import type { Run, Task, Workflow } from '../lib/types.js';
import { layeredLayout } from './layout.js';

const TASK_W = 232;
const HEAD_H = 30;
const ROW_H = 26;
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
  related: Map<string, Set<string>>;
}

/** Only structure goes in (slugs, needs, collapsed/filtered sets): statuses never move a node. */
export function shapeOf(run: Run, collapsed: ReadonlySet<string>, visible?: ReadonlySet<string>): Shape {
  const related = new Map<string, Set<string>>();
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
    relate(related, w, tasks);
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
  return { workflows, width: width + 16, height: Math.max(top, 40), related };
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

function relate(related: Map<string, Set<string>>, w: Workflow, tasks: Task[]): void {
  const needs = new Map(tasks.map((t) => [t.slug, t.relations.needs.map((n) => n.name)]));
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
  const dependents = (s: string) => tasks.filter((t) => needs.get(t.slug)?.includes(s)).map((t) => t.slug);
  for (const t of tasks) {
    const set = new Set<string>([`${w.slug}/${t.slug}`]);
    for (const s of [...closure(t.slug, (x) => needs.get(x) ?? []), ...closure(t.slug, dependents)]) {
      set.add(`${w.slug}/${s}`);
      for (const c of tasks.find((x) => x.slug === s)?.cubes ?? []) set.add(`${w.slug}/${s}/${c.slug}`);
    }
    related.set(`${w.slug}/${t.slug}`, set);
    const cubeNeeds = new Map(t.cubes.map((c) => [c.slug, c.relations.needs.map((n) => n.name)]));
    for (const c of t.cubes) {
      const mine = new Set(set);
      for (const other of t.cubes) mine.delete(`${w.slug}/${t.slug}/${other.slug}`);
      mine.add(`${w.slug}/${t.slug}/${c.slug}`);
      const up = closure(c.slug, (x) => cubeNeeds.get(x) ?? []);
      const down = closure(c.slug, (x) =>
        t.cubes.filter((o) => cubeNeeds.get(o.slug)?.includes(x)).map((o) => o.slug),
      );
      for (const s of [...up, ...down]) mine.add(`${w.slug}/${t.slug}/${s}`);
      related.set(`${w.slug}/${t.slug}/${c.slug}`, mine);
    }
  }
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

export const hovered = signal<string | undefined>(undefined);

/** The run's graph: workflows → tasks (boxes) → cubes (rows, each a link to its log). */
export function RunGraph(props: { run: Run; base: string; failedOnly: boolean }) {
  const { run, base, failedOnly } = props;
  const collapsed = useSignal<ReadonlySet<string>>(new Set());
  const structure = structureKey(run);
  const failedKey = failedOnly ? failedTasks(run) : '';
  const shape = useMemo(
    () =>
      shapeOf(run, collapsed.value, failedOnly ? new Set(failedKey.split('|').filter(Boolean)) : undefined),
    // Layout depends on structure only: statuses change without moving anything.
    [structure, collapsed.value, failedKey],
  );
  const lit = useComputed(() => (hovered.value ? shape.related.get(hovered.value) : undefined));
  const byKey = new Map<string, { status: string; dates: Run['dates']; error?: string }>();
  for (const w of run.workflows)
    for (const t of w.tasks) {
      byKey.set(`${w.slug}/${t.slug}`, t);
      for (const c of t.cubes)
        byKey.set(`${w.slug}/${t.slug}/${c.slug}`, {
          status: c.status,
          dates: c.dates,
          ...(c.error_message ? { error: c.error_message } : {}),
        });
    }
  const dim = (k: string) => (lit.value && !lit.value.has(k) ? ' dim' : '');
  const toggle = (k: string) => {
    const next = new Set(collapsed.value);
    if (next.has(k)) next.delete(k);
    else next.add(k);
    collapsed.value = next;
  };
  return (
    <div class="graph-scroll">
      <svg
        class="graph"
        width={shape.width}
        height={shape.height}
        viewBox={`-8 0 ${shape.width} ${shape.height}`}
        role="group"
        aria-label="Run graph: workflows, tasks and cubes"
        onMouseLeave={() => (hovered.value = undefined)}
      >
        {shape.workflows.map((w) => (
          <g key={w.slug} class="workflow">
            <text class="wf-title" x={0} y={w.top + 16}>
              {w.slug}
            </text>
            {w.edges.map((e) => (
              <path
                key={`${e.from}>${e.to}`}
                class={`edge${lit.value && !(lit.value.has(e.from) && lit.value.has(e.to)) ? ' dim' : lit.value ? ' lit' : ''}`}
                d={e.d}
              />
            ))}
            {w.tasks.map((t) => {
              const k = `${w.slug}/${t.slug}`;
              const task = byKey.get(k);
              const status = task?.status ?? 'created';
              return (
                <g key={k} class={`task s-${status}${dim(k)}`} data-key={k}>
                  <rect class="task-box" x={t.x} y={t.y} width={TASK_W} height={t.height} rx={6} />
                  <g
                    class="task-head"
                    tabIndex={0}
                    role="button"
                    aria-expanded={!t.collapsed}
                    onClick={() => toggle(k)}
                    onKeyDown={(e) => {
                      if (e.key === 'Enter' || e.key === ' ') {
                        e.preventDefault();
                        toggle(k);
                      }
                    }}
                    onMouseEnter={() => (hovered.value = k)}
                    onFocus={() => (hovered.value = k)}
                    onBlur={() => (hovered.value = undefined)}
                  >
                    <rect class="head-hit" x={t.x} y={t.y} width={TASK_W} height={HEAD_H} rx={6} />
                    <text class="chev" x={t.x + 10} y={t.y + 19} aria-hidden="true">
                      {t.collapsed ? '▸' : '▾'}
                    </text>
                    <text class="task-name" x={t.x + 24} y={t.y + 19}>
                      {t.slug}
                    </text>
                    <text class="dur" x={t.x + TASK_W - 10} y={t.y + 19} text-anchor="end">
                      {` ${statusLabel(status)} ${task ? duration(task.dates) : ''}`}
                    </text>
                  </g>
                  {t.cubes.map((c, r) => {
                    const ck = `${k}/${c}`;
                    const cube = byKey.get(ck);
                    const cs = cube?.status ?? 'created';
                    const y = t.y + HEAD_H + r * ROW_H;
                    return (
                      <a
                        key={ck}
                        href={`${base}/${w.slug}/${t.slug}/${c}`}
                        class={`cube s-${cs}${dim(ck)}`}
                        onMouseEnter={() => (hovered.value = ck)}
                        onFocus={() => (hovered.value = ck)}
                        onBlur={() => (hovered.value = undefined)}
                      >
                        <rect
                          class="cube-row"
                          x={t.x + 4}
                          y={y}
                          width={TASK_W - 8}
                          height={ROW_H - 2}
                          rx={4}
                        />
                        <circle class="dot" cx={t.x + 24} cy={y + ROW_H / 2 - 1} r={5} />
                        <text class="cube-name" x={t.x + 36} y={y + 17}>
                          {c}
                        </text>
                        <text class="dur" x={t.x + TASK_W - 10} y={y + 17} text-anchor="end">
                          {` ${statusLabel(cs)} ${cube ? duration(cube.dates) : ''}`}
                        </text>
                      </a>
                    );
                  })}
                </g>
              );
            })}
            {w.cubeEdges.map((e) => (
              <path key={`${e.from}>${e.to}`} class={`cube-edge${dim(e.to)}`} d={e.d} />
            ))}
          </g>
        ))}
      </svg>
    </div>
  );
}

function structureKey(run: Run): string {
  return run.workflows
    .map(
      (w) =>
        `${w.slug}:${w.tasks.map((t) => `${t.slug}<${t.relations.needs.map((n) => n.name).join(',')}>[${t.cubes.map((c) => `${c.slug}<${c.relations.needs.map((n) => n.name).join(',')}>`).join(',')}]`).join(';')}`,
    )
    .join('|');
}

/** Tasks with a failed cube, and what they need (so the failure's context stays visible). */
function failedTasks(run: Run): string {
  const keys: string[] = [];
  for (const w of run.workflows)
    for (const t of w.tasks)
      if (t.cubes.some((c) => c.status === 'failed' || c.status === 'timeout') || t.status === 'failed')
        keys.push(`${w.slug}/${t.slug}`);
  return keys.join('|');
}
