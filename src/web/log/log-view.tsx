import { useSignal } from '@preact/signals';
import { useEffect, useLayoutEffect, useMemo, useRef } from 'preact/hooks';
import { ansiHtml } from './ansi.js';
import { hiddenRanges, lineToRow, rowToLine, type LogModel } from './model.js';

export const ROW = 18;
/** Browsers stop scrolling near 16.7M px; above this the scroll position is scaled. */
const MAX_PX = 8_000_000;

export interface LogViewProps {
  model: LogModel;
  version: number;
  timestamps: boolean;
  /** [first, last] lines to highlight (a line link). */
  selected: [number, number] | undefined;
  hits: ReadonlySet<number>;
  current: number | undefined;
  /** A line to bring into view: changes of `jump.seq` move the view. */
  jump: { line: number; seq: number } | undefined;
  onLineClick: (line: number, extend: boolean) => void;
}

/** A fixed-row virtual list: only the rows on screen are in the DOM, parsed for ANSI as they appear. */
export function LogView(props: LogViewProps) {
  const { model } = props;
  const scroller = useRef<HTMLDivElement>(null);
  const top = useSignal(0);
  const height = useSignal(600);
  const follow = useSignal(true); // a log opens at its tail, where a failure's reason usually is
  const unseen = useSignal(0);
  const collapsed = useSignal<ReadonlySet<number>>(new Set());
  const seenTotal = useRef(model.total);
  const html = useMemo(() => new Map<number, string>(), []);

  const hidden = hiddenRanges(model.groups, collapsed.value);
  const rows = model.total - hidden.reduce((s, [a, b]) => s + b - a + 1, 0);
  const full = rows * ROW;
  const spacer = Math.min(full, MAX_PX);
  const visibleRows = Math.ceil(height.value / ROW) + 1;
  const maxTop = Math.max(1, spacer - height.value);
  const firstRow =
    full <= MAX_PX
      ? top.value / ROW
      : (Math.min(top.value, maxTop) / maxTop) * Math.max(0, rows - visibleRows + 1);
  const first = Math.max(0, Math.floor(firstRow));
  const offset = top.value - (firstRow - first) * ROW;
  const lines: number[] = [];
  for (let r = first; r < Math.min(rows, first + visibleRows); r++) lines.push(rowToLine(r, hidden));

  const scrollToRow = (row: number, where: 'top' | 'third' | 'bottom') => {
    const el = scroller.current;
    if (!el) return;
    const target = where === 'bottom' ? spacer : where === 'third' ? row - Math.floor(visibleRows / 3) : row;
    const px = full <= MAX_PX ? target * ROW : (target / Math.max(1, rows - visibleRows + 1)) * maxTop;
    el.scrollTop = Math.max(0, px);
    top.value = el.scrollTop;
  };

  // New lines: follow the tail, or count them for the "N new lines" button.
  useLayoutEffect(() => {
    const added = model.total - seenTotal.current;
    seenTotal.current = model.total;
    if (added <= 0) return;
    if (follow.value) scrollToRow(rows, 'bottom');
    else unseen.value += added;
  }, [props.version]);
  useLayoutEffect(() => {
    if (props.jump) {
      follow.value = false;
      scrollToRow(lineToRow(props.jump.line, hidden), 'third');
    } else if (follow.value) scrollToRow(rows, 'bottom');
  }, [props.jump?.seq]);
  useEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const measure = () => (height.value = el.clientHeight);
    measure();
    const ro = new ResizeObserver(measure);
    ro.observe(el);
    return () => ro.disconnect();
  }, []);
  useEffect(() => {
    const firstLine = lines[0];
    const lastLine = lines[lines.length - 1];
    if (firstLine !== undefined && lastLine !== undefined) void model.ensure(firstLine, lastLine + 1);
  });

  const onScroll = () => {
    const el = scroller.current;
    if (!el) return;
    top.value = el.scrollTop;
    const atBottom = el.scrollTop + el.clientHeight >= el.scrollHeight - 4;
    follow.value = atBottom;
    if (atBottom) unseen.value = 0;
  };
  const toggle = (start: number) => {
    const next = new Set(collapsed.value);
    if (next.has(start)) next.delete(start);
    else next.add(start);
    collapsed.value = next;
  };
  const groupAt = new Map(model.groups.map((g) => [g.start, g]));
  if (html.size > 20_000) html.clear();

  return (
    <div class="log-wrap">
      <div
        class="log-scroll"
        ref={scroller}
        onScroll={onScroll}
        tabIndex={0}
        role="log"
        aria-label={`Log, ${model.total} lines`}
        data-lines={model.total}
      >
        <div class="log-spacer" style={{ height: `${spacer}px` }} />
        <div class="log-rows" style={{ transform: `translateY(${offset}px)` }}>
          {lines.map((i) => {
            const line = model.line(i);
            const group = groupAt.get(i);
            let h = html.get(i);
            if (line && h === undefined) html.set(i, (h = ansiHtml(line.text)));
            const sel = props.selected && i >= props.selected[0] && i <= props.selected[1];
            const cls = `log-row${sel ? ' sel' : ''}${props.hits.has(i) ? ' hit' : ''}${props.current === i ? ' cur' : ''}${group ? ' group' : ''}`;
            return (
              <div key={i} class={cls} data-line={i + 1}>
                <a
                  class="ln"
                  href={`#L${i + 1}`}
                  id={`L${i + 1}`}
                  onClick={(e) => {
                    e.preventDefault();
                    props.onLineClick(i, e.shiftKey);
                  }}
                >
                  {i + 1}
                </a>
                {props.timestamps && <span class="ts">{line ? time(line.at) : ''}</span>}
                {group ? (
                  <button
                    type="button"
                    class="fold"
                    aria-expanded={!collapsed.value.has(i)}
                    onClick={() => toggle(i)}
                  >
                    {collapsed.value.has(i) ? '▸' : '▾'} {group.title}
                    {collapsed.value.has(i) ? ` (${group.end - group.start} lines)` : ''}
                  </button>
                ) : (
                  <span class="txt" dangerouslySetInnerHTML={{ __html: h ?? '' }} />
                )}
              </div>
            );
          })}
        </div>
      </div>
      {unseen.value > 0 && (
        <button
          type="button"
          class="new-lines primary"
          onClick={() => {
            follow.value = true;
            unseen.value = 0;
            scrollToRow(rows, 'bottom');
          }}
        >
          {unseen.value} new lines ↓
        </button>
      )}
    </div>
  );
}

function time(at: number): string {
  return new Date(at).toISOString().slice(11, 23);
}
