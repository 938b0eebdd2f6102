import { signal, useComputed, useSignal } from '@preact/signals';
import { useMemo } from 'preact/hooks';
import { duration, statusLabel } from '../lib/format.js';
import type { Run } from '../lib/types.js';
import { HEAD_H, shapeOf, TASK_W, ROW_H } from './shape.js';

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
  const lit = useComputed(() => (hovered.value ? shape.related(hovered.value) : undefined));
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
