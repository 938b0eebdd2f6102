import { useSignal } from '@preact/signals';
import { useEffect } from 'preact/hooks';
import { api, repoApi } from '../lib/api.js';
import { statusLabel } from '../lib/format.js';
import type { Cube, Run } from '../lib/types.js';
import { RepoTabs } from '../components/repo-tabs.js';

/** /ui/{org}/{repo}/runs/{run}/{workflow}/{task}/{cube}: the cube's state and log. */
export function CubePage(props: {
  org: string;
  repo: string;
  run: string;
  workflow: string;
  task: string;
  cube: string;
}) {
  const { org, repo, run, workflow, task, cube } = props;
  const state = useSignal<Cube | undefined>(undefined);
  const text = useSignal('');
  const error = useSignal('');
  useEffect(() => {
    api<Run>('GET', `${repoApi(org, repo)}/cicd/runs/${run}`).then(
      (r) =>
        (state.value = r.workflows
          .find((w) => w.slug === workflow)
          ?.tasks.find((t) => t.slug === task)
          ?.cubes.find((c) => c.slug === cube)),
      (e: Error) => (error.value = e.message),
    );
    api<{ logs: string }>('GET', `${repoApi(org, repo)}/cicd/logs/${run}/${workflow}/${task}/${cube}`).then(
      (r) => (text.value = r.logs),
      (e: Error) => (error.value = e.message),
    );
  }, [org, repo, run, workflow, task, cube]);
  const c = state.value;
  return (
    <main class="page">
      <RepoTabs org={org} repo={repo} current="runs" />
      <h1>
        <a href={`/ui/${org}/${repo}/runs/${run}`}>Run #{run}</a> › {workflow} › {task} › {cube}{' '}
        {c && <span class={`badge s-${c.status}`}>{statusLabel(c.status)}</span>}
      </h1>
      {error.value && <p class="error">{error.value}</p>}
      {c?.error_message && <p class="card error-box pre">{c.error_message}</p>}
      <pre class="log-plain">{text.value}</pre>
    </main>
  );
}
