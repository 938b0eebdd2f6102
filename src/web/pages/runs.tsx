import { useSignal } from '@preact/signals';
import { useEffect } from 'preact/hooks';
import { api, repoApi } from '../lib/api.js';
import { ago, duration, shortRef, statusLabel } from '../lib/format.js';
import { location, navigate, queryParam } from '../lib/router.js';
import { live } from '../lib/live.js';
import type { Run } from '../lib/types.js';
import { NewRunDialog } from './new-run.js';
import { RepoTabs } from '../components/repo-tabs.js';

const STATUSES = ['processing', 'created', 'success', 'failed', 'canceled', 'timeout'];

/** /ui/{org}/{repo}/runs: filters and the page token live in the URL, so a filtered list can be pasted. */
export function RunsPage(props: { org: string; repo: string }) {
  const { org, repo } = props;
  const runs = useSignal<Run[] | undefined>(undefined);
  const next = useSignal<string | undefined>(undefined);
  const branches = useSignal<string[]>([]);
  const error = useSignal('');
  const creating = useSignal(false);
  const query = location.value.query;
  const status = queryParam('status');
  const branch = queryParam('branch');
  const workflow = queryParam('workflow');
  const token = queryParam('page_token');
  const tick = useSignal(0);
  // The list follows the repository's runs stream: a new or changed run reloads this page of it.
  useEffect(() => {
    const stream = live(`${repoApi(org, repo)}/cicd/events`, { changed: () => tick.value++ });
    return () => stream.stop();
  }, [org, repo]);
  useEffect(() => {
    const q = new URLSearchParams({ page_size: '20' });
    if (status) q.set('status', status);
    if (branch) q.set('branch', branch);
    if (workflow) q.set('workflow', workflow);
    if (token) q.set('page_token', token);
    api<{ runs: Run[]; next_page_token?: string }>(
      'GET',
      `${repoApi(org, repo)}/cicd/runs?${q.toString()}`,
    ).then(
      (r) => {
        runs.value = r.runs;
        next.value = r.next_page_token;
      },
      (e: Error) => (error.value = e.message),
    );
  }, [org, repo, query, tick.value]);
  useEffect(() => {
    api<{ branches: { name: string }[] }>('GET', `${repoApi(org, repo)}/cicd/branches`).then(
      (r) => (branches.value = r.branches.map((b) => b.name)),
      () => undefined,
    );
  }, [org, repo]);
  const setFilter = (name: string, value: string) => {
    const q = new URLSearchParams(location.value.query);
    if (value) q.set(name, value);
    else q.delete(name);
    q.delete('page_token');
    navigate(`/ui/${org}/${repo}/runs${q.size ? `?${q.toString()}` : ''}`);
  };
  const base = `/ui/${org}/${repo}/runs`;
  return (
    <main class="page">
      <RepoTabs org={org} repo={repo} current="runs" />
      <div class="bar">
        <h1>Runs</h1>
        <button type="button" class="primary" onClick={() => (creating.value = true)}>
          New run
        </button>
      </div>
      <form class="filters" aria-label="Filter runs" onSubmit={(e) => e.preventDefault()}>
        <label>
          Status
          <select value={status} onChange={(e) => setFilter('status', e.currentTarget.value)}>
            <option value="">any</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {statusLabel(s)}
              </option>
            ))}
          </select>
        </label>
        <label>
          Branch
          <select value={branch} onChange={(e) => setFilter('branch', e.currentTarget.value)}>
            <option value="">any</option>
            {branches.value.map((b) => (
              <option key={b} value={b}>
                {b}
              </option>
            ))}
          </select>
        </label>
        <label>
          Workflow
          <input
            value={workflow}
            placeholder="any"
            onChange={(e) => setFilter('workflow', e.currentTarget.value.trim())}
          />
        </label>
      </form>
      {error.value && <p class="error">{error.value}</p>}
      {runs.value === undefined && !error.value && <p class="muted">Loading…</p>}
      {runs.value?.length === 0 && (
        <p class="muted">No runs{status || branch || workflow ? ' match these filters' : ' yet'}.</p>
      )}
      {runs.value && runs.value.length > 0 && (
        <table class="runs">
          <thead>
            <tr>
              <th scope="col">Run</th>
              <th scope="col">Status</th>
              <th scope="col" class="wide">
                Event
              </th>
              <th scope="col">Branch · commit</th>
              <th scope="col" class="wide">
                Who
              </th>
              <th scope="col" class="wide">
                When
              </th>
              <th scope="col">Duration</th>
            </tr>
          </thead>
          <tbody>
            {runs.value.map((r) => (
              <tr key={r.id}>
                <td>
                  <a class="strong" href={`${base}/${r.slug}`}>
                    #{r.slug}
                  </a>
                  <div class="muted small clip">{r.workflows.map((w) => w.slug).join(', ')}</div>
                </td>
                <td>
                  <span class={`badge s-${r.status}`}>{statusLabel(r.status)}</span>
                </td>
                <td class="wide">{r.event_type}</td>
                <td>
                  {shortRef(r.commit?.ref)} <code>{r.commit?.sha.slice(0, 8)}</code>
                  <div class="muted small clip">{r.commit?.message.split('\n')[0]}</div>
                </td>
                <td class="wide">{r.user?.slug ?? r.trigger ?? ''}</td>
                <td class="wide">{ago(r.dates.created_at)}</td>
                <td>{duration(r.dates)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <nav class="pager" aria-label="Pages">
        {token && (
          <button type="button" onClick={() => history.back()}>
            ← Newer
          </button>
        )}
        {next.value && (
          <button type="button" onClick={() => setPage(next.value ?? '')}>
            Older →
          </button>
        )}
      </nav>
      {creating.value && (
        <NewRunDialog
          org={org}
          repo={repo}
          branches={branches.value}
          onClose={() => (creating.value = false)}
          onCreated={(slug) => navigate(`${base}/${slug}`)}
        />
      )}
    </main>
  );

  function setPage(pageToken: string) {
    const q = new URLSearchParams(location.value.query);
    q.set('page_token', pageToken);
    navigate(`${base}?${q.toString()}`);
  }
}
