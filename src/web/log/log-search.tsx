import { useSignal } from '@preact/signals';
import { useEffect, useRef } from 'preact/hooks';
import { api } from '../lib/api.js';
import type { LogModel } from './model.js';

/**
 * Search over every line: the server counts the lines it has (exactly), the page checks each line
 * that arrives live after that, so the count stays exact while the log runs.
 */
export function LogSearch(props: {
  model: LogModel;
  version: number;
  onChange: (hits: ReadonlySet<number>, current: number | undefined) => void;
}) {
  const { model } = props;
  const query = useSignal('');
  const result = useSignal<{ q: string; matches: number[]; searched: number; count: number } | undefined>(
    undefined,
  );
  const index = useSignal(-1);
  const checked = useRef(0);

  useEffect(() => {
    const q = query.value;
    if (!q) {
      result.value = undefined;
      props.onChange(new Set(), undefined);
      return;
    }
    const timer = setTimeout(() => {
      api<{ matches: number[]; searched: number; count: number }>(
        'GET',
        `${model.base}/search?q=${encodeURIComponent(q)}&to=${model.total}`,
      ).then(
        (r) => {
          if (query.value !== q) return;
          checked.current = r.searched;
          result.value = { q, ...r };
          index.value = -1;
          props.onChange(new Set(r.matches), undefined);
        },
        () => undefined,
      );
    }, 150);
    return () => clearTimeout(timer);
  }, [query.value]);

  // Live lines: test each new one.
  useEffect(() => {
    const r = result.value;
    if (!r) return;
    const lower = r.q.toLowerCase();
    let added = false;
    for (; checked.current < model.total; checked.current++) {
      const line = model.line(checked.current);
      if (line && stripAnsi(line.text).toLowerCase().includes(lower)) {
        r.matches.push(checked.current);
        r.count++;
        added = true;
      }
    }
    if (added) {
      result.value = { ...r };
      props.onChange(new Set(r.matches), r.matches[index.value]);
    }
  }, [props.version]);

  const go = (step: number) => {
    const r = result.value;
    if (!r || r.matches.length === 0) return;
    index.value = (index.value + step + r.matches.length) % r.matches.length;
    props.onChange(new Set(r.matches), r.matches[index.value]);
  };
  const r = result.value;
  return (
    <form
      class="search"
      role="search"
      onSubmit={(e) => {
        e.preventDefault();
        go(1);
      }}
    >
      <label class="inline">
        <span class="vh">Search the log</span>
        <input
          type="search"
          placeholder="Search the log"
          value={query.value}
          onInput={(e) => (query.value = e.currentTarget.value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter' && e.shiftKey) {
              e.preventDefault();
              go(-1);
            }
          }}
        />
      </label>
      <span class="count" aria-live="polite">
        {r
          ? `${index.value >= 0 ? `${index.value + 1} of ` : ''}${r.count} ${r.count === 1 ? 'match' : 'matches'}`
          : ''}
      </span>
      <button type="button" onClick={() => go(-1)} aria-label="Previous match" disabled={!r?.count}>
        ↑
      </button>
      <button type="button" onClick={() => go(1)} aria-label="Next match" disabled={!r?.count}>
        ↓
      </button>
    </form>
  );
}

// eslint-disable-next-line no-control-regex
const stripAnsi = (text: string) => text.replace(/\u001b\[[0-9;?]*[ -/]*[@-~]|\u001b\][^\u0007]*\u0007/g, '');
