import { useSignal } from '@preact/signals';
import { api, me } from '../lib/api.js';
import { ago, statusLabel } from '../lib/format.js';
import { navigate } from '../lib/router.js';
import { mayReview, relName, who, type DeployRun, type Environment, type Job } from '../lib/deploy-types.js';
import { RepoTabs } from '../components/repo-tabs.js';
import { ReviewDialog, type PendingReview } from '../components/review-dialog.js';
import { useDeployData, type DeployData } from './deploy-data.js';
import { DeployRunPage } from './deploy-run.js';

/** /ui/{org}/{repo}/deployments and /ui/{org}/{repo}/deployments/runs/{id}. */
export function DeploymentsPage(props: { org: string; repo: string; rest: string[] }) {
  const { org, repo } = props;
  const { data, error } = useDeployData(org, repo);
  const review = useSignal<PendingReview | undefined>(undefined);
  const d = data.value;
  const runId = props.rest[0] === 'runs' ? props.rest[1] : undefined;
  return (
    <main class="page">
      <RepoTabs org={org} repo={repo} current="deployments" />
      {error.value && (
        <p class="error" role="alert">
          {error.value}
        </p>
      )}
      {!d && !error.value && <p class="muted">Loading…</p>}
      {d && runId && (
        <DeployRunPage org={org} repo={repo} data={d} runId={runId} onReview={(r) => (review.value = r)} />
      )}
      {d && !runId && <Overview org={org} repo={repo} data={d} onReview={(r) => (review.value = r)} />}
      {d && review.value && (
        <ReviewDialog
          projectId={d.projectId}
          review={review.value}
          onClose={() => (review.value = undefined)}
        />
      )}
    </main>
  );
}

function waitingJobs(d: DeployData): { runId: string; job: Job; run: DeployRun }[] {
  return d.runs.flatMap((run) =>
    run.jobs.filter((j) => j.status === 'waiting').map((job) => ({ runId: run.id, job, run })),
  );
}

function Overview(props: {
  org: string;
  repo: string;
  data: DeployData;
  onReview: (r: PendingReview) => void;
}) {
  const { data: d, org, repo } = props;
  const base = `/ui/${org}/${repo}/deployments`;
  const envs = [...d.envs].sort((a, b) => a.workflowOrder - b.workflowOrder);
  const userId = me.value?.id ?? '';
  const waiting = waitingJobs(d).filter((w) =>
    mayReview(
      d.envs.find((e) => e.id === w.job.environmentId),
      userId,
    ),
  );
  const picked = useSignal<ReadonlySet<string>>(new Set());
  const error = useSignal('');
  const chosen = waiting.filter((w) => picked.value.has(w.job.id));
  const start = async (releaseId: string) => {
    try {
      const run = await api<DeployRun>('POST', `/api/projects/${d.projectId}/runs`, { releaseId });
      navigate(`${base}/runs/${run.id}`);
    } catch (e) {
      error.value = e instanceof Error ? e.message : String(e);
    }
  };
  return (
    <>
      <h1>Deployments</h1>
      {error.value && <p class="error">{error.value}</p>}
      <section aria-label="Environments">
        <h2>Environments</h2>
        <ol class="lanes">
          {envs.map((env) => (
            <EnvLane key={env.id} env={env} runs={d.runs} base={base} />
          ))}
        </ol>
        {envs.length === 0 && (
          <p class="muted">No environments yet (POST /api/projects/{d.projectId}/environments).</p>
        )}
      </section>
      {waiting.length > 0 && (
        <section class="card" aria-label="Waiting for your review">
          <h2>Waiting for your review</h2>
          <ul class="list">
            {waiting.map((w) => (
              <li key={w.job.id} class="row">
                <label class="check">
                  <input
                    type="checkbox"
                    checked={picked.value.has(w.job.id)}
                    onChange={(e) => {
                      const next = new Set(picked.value);
                      if (e.currentTarget.checked) next.add(w.job.id);
                      else next.delete(w.job.id);
                      picked.value = next;
                    }}
                  />
                  <span>
                    {w.job.environment?.name}: {relName(w.run.release)}
                  </span>
                </label>
                <a href={`${base}/runs/${w.runId}`}>{w.run.name || 'run'}</a>
                <span class="actions">
                  <button
                    type="button"
                    class="primary"
                    onClick={() => props.onReview({ conclusion: 'approved', jobs: [w] })}
                  >
                    Approve
                  </button>
                  <button type="button" onClick={() => props.onReview({ conclusion: 'rejected', jobs: [w] })}>
                    Reject
                  </button>
                </span>
              </li>
            ))}
          </ul>
          <button
            type="button"
            class="primary"
            disabled={chosen.length < 2}
            onClick={() => props.onReview({ conclusion: 'approved', jobs: chosen })}
          >
            Approve selected ({chosen.length})
          </button>
        </section>
      )}
      <section aria-label="Deployment runs">
        <h2>Runs</h2>
        <table class="runs">
          <thead>
            <tr>
              <th scope="col">Run</th>
              <th scope="col">Status</th>
              <th scope="col">Release</th>
              <th scope="col" class="wide">
                By
              </th>
              <th scope="col" class="wide">
                When
              </th>
            </tr>
          </thead>
          <tbody>
            {d.runs.map((r) => (
              <tr key={r.id}>
                <td>
                  <a class="strong" href={`${base}/runs/${r.id}`}>
                    {r.name || r.id.slice(0, 8)}
                  </a>
                </td>
                <td>
                  <span class={`badge s-${r.status}`}>{statusLabel(r.status)}</span>
                </td>
                <td>{relName(r.release)}</td>
                <td class="wide">{who(r.createdBy)}</td>
                <td class="wide">{ago(r.createdAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {d.runs.length === 0 && <p class="muted">No deployment runs yet.</p>}
      </section>
      <section aria-label="Releases">
        <h2>Releases</h2>
        <ul class="list">
          {d.releases.map((rel) => {
            const liveOn = envs.filter((e) => e.releaseId === rel.id).map((e) => e.name);
            return (
              <li key={rel.id} class="row">
                <span class="strong">{rel.name}</span>
                <span class="muted">
                  {rel.semanticVersion ?? rel.status} · <code>{rel.commitId.slice(0, 8)}</code>
                </span>
                <span>{liveOn.length ? `live on ${liveOn.join(', ')}` : 'not live'}</span>
                {rel.status === 'published' && (
                  <button type="button" onClick={() => void start(rel.id)}>
                    Deploy {rel.name}
                  </button>
                )}
              </li>
            );
          })}
        </ul>
      </section>
    </>
  );
}

/** One environment: the release live there, and the releases it had before (newest first). */
function EnvLane(props: { env: Environment; runs: DeployRun[]; base: string }) {
  const { env } = props;
  const history = props.runs
    .flatMap((r) =>
      r.jobs.filter((j) => j.environmentId === env.id && j.status === 'completed').map((j) => ({ r, j })),
    )
    .slice(0, 4);
  const active = props.runs.flatMap((r) =>
    r.jobs
      .filter((j) => j.environmentId === env.id && (j.status === 'waiting' || j.status === 'in_progress'))
      .map((j) => ({ r, j })),
  )[0];
  return (
    <li class="lane card">
      <div class="lane-head">
        <span class="strong">{env.name}</span> <span class="muted small">{env.key}</span>
      </div>
      <div class="lane-live">
        {env.release
          ? `${env.release.name}${env.release.semanticVersion ? ` ${env.release.semanticVersion}` : ''}`
          : 'nothing live'}
      </div>
      {active && (
        <a class={`badge s-${active.j.status}`} href={`${props.base}/runs/${active.r.id}`}>
          {statusLabel(active.j.status)}: {relName(active.r.release)}
        </a>
      )}
      {history.length > 0 && (
        <ul class="lane-history small muted">
          {history.map(({ r, j }) => (
            <li key={j.id}>
              {relName(r.release)} · {ago(r.completedAt ?? r.createdAt)}
            </li>
          ))}
        </ul>
      )}
    </li>
  );
}
