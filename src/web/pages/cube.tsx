import { useSignal } from '@preact/signals';
import { useEffect, useMemo } from 'preact/hooks';
import { repoApi } from '../lib/api.js';
import { duration, isDone, statusLabel } from '../lib/format.js';
import { live } from '../lib/live.js';
import { location } from '../lib/router.js';
import type { Cube, Run } from '../lib/types.js';
import { RepoTabs } from '../components/repo-tabs.js';
import { LogModel } from '../log/model.js';
import { LogView } from '../log/log-view.js';
import { LogSearch } from '../log/log-search.js';
import { Artifacts } from '../components/artifacts.js';

/** `#L12` or `#L12-L40` (1-based, as shown) → 0-based [first, last]. */
function parseHash(hash: string): [number, number] | undefined {
  const m = /^#L(\d+)(?:-L?(\d+))?$/.exec(hash);
  if (!m) return undefined;
  const a = Number(m[1]) - 1;
  const b = m[2] ? Number(m[2]) - 1 : a;
  return [Math.min(a, b), Math.max(a, b)];
}

interface Props {
  org: string;
  repo: string;
  run: string;
  workflow: string;
  task: string;
  cube: string;
}

/** /ui/{org}/{repo}/runs/{run}/{workflow}/{task}/{cube}: the cube's live log and artifacts. */
export function CubePage(props: Props) {
  const { org, repo, run, workflow, task, cube } = props;
  const where = [run, workflow, task, cube].map(encodeURIComponent).join('/');
  const logBase = `${repoApi(org, repo)}/cicd/logs/${where}`;
  const version = useSignal(0);
  const model = useMemo(() => new LogModel(logBase, () => version.value++), [logBase]);
  const ready = useSignal(false);
  const state = useSignal<Cube | undefined>(undefined);
  const error = useSignal('');
  const timestamps = useSignal(false);
  const jump = useSignal<{ line: number; seq: number } | undefined>(undefined);
  const search = useSignal<{ hits: ReadonlySet<number>; current: number | undefined }>({
    hits: new Set(),
    current: undefined,
  });
  const selected = parseHash(location.value.hash);

  // Lines arrive one event each (1,000 a second and more): the page repaints once per frame.
  const frame = useMemo(() => ({ pending: false }), [logBase]);
  const repaint = () => {
    if (frame.pending) return;
    frame.pending = true;
    requestAnimationFrame(() => {
      frame.pending = false;
      version.value++;
    });
  };
  useEffect(() => {
    ready.value = false;
    let stream: { stop(): void } | undefined;
    const target = parseHash(window.location.hash);
    model
      .open(1000)
      .then(() => {
        ready.value = true;
        if (target) jump.value = { line: target[0], seq: 1 };
        if (model.done) return;
        stream = live(`${logBase}/stream?from=${model.total}`, {
          line: (data) => {
            const d = data as { n: number; at: string; text: string };
            model.append(d.n, Date.parse(d.at), d.text);
            repaint();
          },
          done: (data) => {
            model.done = true;
            model.status = (data as { status: string }).status;
            version.value++;
            stream?.stop();
          },
        });
      })
      .catch((e: Error) => (error.value = e.message));
    const runStream = live(`${repoApi(org, repo)}/cicd/runs/${encodeURIComponent(run)}/events`, {
      run: (data) => {
        const r = data as Run;
        state.value = r.workflows
          .find((w) => w.slug === workflow)
          ?.tasks.find((t) => t.slug === task)
          ?.cubes.find((c) => c.slug === cube);
        if (isDone(r.status)) runStream.stop();
      },
    });
    return () => {
      stream?.stop();
      runStream.stop();
    };
  }, [logBase]);

  // A line link that names a line not written yet jumps once the line arrives.
  useEffect(() => {
    const target = parseHash(location.value.hash);
    if (target && ready.value && target[0] < model.total && jump.value?.line !== target[0])
      jump.value = { line: target[0], seq: (jump.value?.seq ?? 0) + 1 };
  }, [location.value.hash, version.value, ready.value]);

  const c = state.value;
  const onLineClick = (line: number, extend: boolean) => {
    const base = selected && extend ? selected[0] : line;
    const hash =
      base === line ? `#L${line + 1}` : `#L${Math.min(base, line) + 1}-L${Math.max(base, line) + 1}`;
    history.replaceState(null, '', hash);
    location.value = { ...location.value, hash };
  };
  return (
    <main class="page cube-page">
      <RepoTabs org={org} repo={repo} current="runs" />
      <h1 class="cube-title">
        <a href={`/ui/${org}/${repo}/runs/${run}`}>Run #{run}</a> <span aria-hidden="true">›</span> {workflow}{' '}
        <span aria-hidden="true">›</span> {task} <span aria-hidden="true">›</span> {cube}{' '}
        {c && <span class={`badge s-${c.status}`}>{statusLabel(c.status)}</span>}
        {c && <span class="muted small"> {duration(c.dates)}</span>}
      </h1>
      {error.value && (
        <p class="error" role="alert">
          {error.value}
        </p>
      )}
      {c?.error_message && <p class="card error-box pre">{c.error_message}</p>}
      <div class="log-tools">
        <LogSearch
          model={model}
          version={version.value}
          onChange={(hits, current) => {
            search.value = { hits, current };
            if (current !== undefined) jump.value = { line: current, seq: (jump.value?.seq ?? 0) + 1 };
          }}
        />
        <label class="check">
          <input
            type="checkbox"
            checked={timestamps.value}
            onChange={(e) => (timestamps.value = e.currentTarget.checked)}
          />
          Timestamps
        </label>
        <a class="button" href={`${logBase}/raw?download=true`} download>
          Download raw
        </a>
      </div>
      {ready.value && (
        <LogView
          model={model}
          version={version.value}
          timestamps={timestamps.value}
          selected={selected}
          hits={search.value.hits}
          current={search.value.current}
          jump={jump.value}
          onLineClick={onLineClick}
        />
      )}
      {!ready.value && !error.value && <p class="muted">Loading the log…</p>}
      {c && <Artifacts artifacts={c.artifacts} />}
    </main>
  );
}
