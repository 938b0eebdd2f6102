import { useSignal } from '@preact/signals';
import { useEffect } from 'preact/hooks';
import { api, repoApi } from '../lib/api.js';
import { duration, isDone, shortRef, statusLabel } from '../lib/format.js';
import { live } from '../lib/live.js';
import { navigate } from '../lib/router.js';
import type { Run } from '../lib/types.js';
import { RunGraph } from '../graph/run-graph.js';
import { RepoTabs } from '../components/repo-tabs.js';
import { CancelDialog } from '../components/cancel-dialog.js';

/** /ui/{org}/{repo}/runs/{run}: the graph, live from the run's event stream. */
export function RunPage(props: { org: string; repo: string; slug: string }) {
  const { org, repo, slug } = props;
  const run = useSignal<Run | undefined>(undefined);
  const error = useSignal('');
  const failedOnly = useSignal(false);
  const canceling = useSignal(false);
  const connection = useSignal<'open' | 'reconnecting'>('open');
  const path = `${repoApi(org, repo)}/cicd/runs/${encodeURIComponent(slug)}`;
  useEffect(() => {
    run.value = undefined;
    error.value = '';
    const stream = live(
      `${path}/events`,
      {
        run: (data) => {
          run.value = data as Run;
          if (isDone(run.value.status)) stream.stop();
        },
      },
      (state) => (connection.value = state),
    );
    api<Run>('GET', path).then(
      (r) => (run.value ??= r),
      (e: Error) => {
        error.value = e.message;
        stream.stop();
      },
    );
    return () => stream.stop();
  }, [path]);
  const r = run.value;
  const base = `/ui/${org}/${repo}/runs/${slug}`;
  const failed = r ? failedCubes(r, base) : [];
  const restart = async (scope: 'all' | 'failed') => {
    try {
      const next = await api<Run>('POST', `${path}/restart`, { scope });
      navigate(`/ui/${org}/${repo}/runs/${next.slug}`);
    } catch (e) {
      error.value = e instanceof Error ? e.message : String(e);
    }
  };
  const progress = r
    ? Math.round(r.workflows.reduce((s, w) => s + w.progress.percent, 0) / Math.max(1, r.workflows.length))
    : 0;
  return (
    <main class="page">
      <RepoTabs org={org} repo={repo} current="runs" />
      {error.value && (
        <p class="error" role="alert">
          {error.value}
        </p>
      )}
      {r && (
        <>
          <div class="bar">
            <h1>
              Run #{r.slug} <span class={`badge s-${r.status}`}>{statusLabel(r.status)}</span>
            </h1>
            <div class="actions">
              {!isDone(r.status) && (
                <button type="button" onClick={() => (canceling.value = true)}>
                  Cancel…
                </button>
              )}
              {isDone(r.status) && r.status !== 'success' && (
                <button type="button" class="primary" onClick={() => void restart('failed')}>
                  Restart failed
                </button>
              )}
              {isDone(r.status) && (
                <button type="button" onClick={() => void restart('all')}>
                  Restart all
                </button>
              )}
            </div>
          </div>
          <p class="meta">
            {r.event_type} · {shortRef(r.commit?.ref)} <code>{r.commit?.sha.slice(0, 8)}</code>{' '}
            <span class="muted">{r.commit?.message.split('\n')[0]}</span> · {r.user?.slug ?? r.trigger} ·{' '}
            {duration(r.dates)}
            {connection.value === 'reconnecting' && !isDone(r.status) && (
              <span class="muted"> · reconnecting…</span>
            )}
          </p>
          <div
            class="progress"
            role="progressbar"
            aria-label="Progress"
            aria-valuenow={progress}
            aria-valuemin={0}
            aria-valuemax={100}
          >
            <span style={{ width: `${progress}%` }} />
          </div>
          {r.workflows.some((w) => w.tasks.some((t) => t.message)) && (
            <section class="card" aria-label="Waiting">
              <h2>Waiting</h2>
              <ul>
                {r.workflows.flatMap((w) =>
                  w.tasks
                    .filter((t) => t.message)
                    .map((t) => (
                      <li key={`${w.slug}/${t.slug}`}>
                        {w.slug}/{t.slug}: {t.message}
                      </li>
                    )),
                )}
              </ul>
            </section>
          )}
          {r.error_messages.length > 0 && (
            <section class="card error-box" aria-label="Errors">
              <h2>Why it failed</h2>
              <ul>
                {r.error_messages.map((m, i) => (
                  <li key={i} class="pre">
                    {m}
                  </li>
                ))}
              </ul>
            </section>
          )}
          {failed.length > 0 && (
            <section class="card" aria-label="Failed cubes">
              <h2>Failed cubes</h2>
              <ul class="list">
                {failed.map((f) => (
                  <li key={f.href} class="row">
                    <a class="strong" href={f.href}>
                      {f.label}
                    </a>
                    <span class="muted">{f.why}</span>
                  </li>
                ))}
              </ul>
            </section>
          )}
          <label class="check">
            <input
              type="checkbox"
              checked={failedOnly.value}
              onChange={(e) => (failedOnly.value = e.currentTarget.checked)}
            />
            Failed only
          </label>
          <RunGraph run={r} base={base} failedOnly={failedOnly.value} />
        </>
      )}
      {!r && !error.value && <p class="muted">Loading…</p>}
      {canceling.value && r && (
        <CancelDialog
          what="run"
          keep="Keep running"
          onClose={() => (canceling.value = false)}
          onCancel={async (comment) => {
            run.value = await api<Run>('POST', `${path}/cancel`, { comment });
            canceling.value = false;
          }}
        />
      )}
    </main>
  );
}

function failedCubes(r: Run, base: string) {
  const out: { href: string; label: string; why: string }[] = [];
  for (const w of r.workflows)
    for (const t of w.tasks)
      for (const c of t.cubes)
        if (c.status === 'failed' || c.status === 'timeout')
          out.push({
            href: `${base}/${w.slug}/${t.slug}/${c.slug}`,
            label: `${w.slug} › ${t.slug} › ${c.slug}`,
            why:
              c.error_message ??
              (c.exit_code !== undefined ? `exit code ${c.exit_code}` : statusLabel(c.status)),
          });
  return out;
}
