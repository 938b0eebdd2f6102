import { useSignal } from '@preact/signals';
import { api, me } from '../lib/api.js';
import { statusLabel } from '../lib/format.js';
import { mayReview, relName, who, type Job } from '../lib/deploy-types.js';
import { CancelDialog } from '../components/cancel-dialog.js';
import type { PendingReview } from '../components/review-dialog.js';
import type { DeployData } from './deploy-data.js';

/** A deployment run: its jobs as a pipeline of environments, with review and cancel. */
export function DeployRunPage(props: {
  org: string;
  repo: string;
  data: DeployData;
  runId: string;
  onReview: (r: PendingReview) => void;
}) {
  const { data: d, runId } = props;
  const run = d.runs.find((r) => r.id === runId);
  const canceling = useSignal(false);
  if (!run) return <p class="muted">Deployment run {runId} is not among the latest 50.</p>;
  const userId = me.value?.id ?? '';
  const jobs = [...run.jobs].sort((a, b) => a.order - b.order);
  const finished = ['completed', 'failure', 'cancelled'].includes(run.status);
  return (
    <>
      <div class="bar">
        <h1>
          {run.name || 'Deployment'} <span class={`badge s-${run.status}`}>{statusLabel(run.status)}</span>
        </h1>
        {!finished && (
          <button type="button" onClick={() => (canceling.value = true)}>
            Cancel…
          </button>
        )}
      </div>
      <p class="meta">
        {relName(run.release)} · started by {who(run.createdBy)}
        {run.cancelledBy &&
          ` · cancelled by ${who(run.cancelledBy)}${run.cancelledComment ? `: ${run.cancelledComment}` : ''}`}
      </p>
      <ol class="pipeline" aria-label="Environments of this run">
        {jobs.map((job) => (
          <JobCard
            key={job.id}
            job={job}
            org={props.org}
            repo={props.repo}
            release={relName(run.release)}
            canApprove={
              mayReview(
                d.envs.find((e) => e.id === job.environmentId),
                userId,
              ) && run.createdById !== userId
            }
            canReject={mayReview(
              d.envs.find((e) => e.id === job.environmentId),
              userId,
            )}
            onReview={(conclusion) => props.onReview({ conclusion, jobs: [{ runId: run.id, job }] })}
          />
        ))}
      </ol>
      {canceling.value && (
        <CancelDialog
          what="deployment"
          keep="Keep going"
          onClose={() => (canceling.value = false)}
          onCancel={async (comment) => {
            await api('POST', `/api/projects/${d.projectId}/runs/${run.id}/cancel`, { comment });
            canceling.value = false;
          }}
        />
      )}
    </>
  );
}

function JobCard(props: {
  job: Job;
  org: string;
  repo: string;
  release: string;
  canApprove: boolean;
  canReject: boolean;
  onReview: (c: 'approved' | 'rejected') => void;
}) {
  const { job } = props;
  const ci = job.data.ciRun?.slug;
  return (
    <li class={`stage card s-${job.status}`}>
      <div class="lane-head">
        <span class="strong">{job.environment?.name ?? job.environmentId}</span>{' '}
        <span class={`badge s-${job.status}`}>{statusLabel(job.status)}</span>
      </div>
      <div class="small">
        {relName(job.previousRelease)} → {props.release}
        {job.data.rollback ? ' (rollback)' : ''}
      </div>
      {job.reviewedBy && (
        <div class="small">
          {job.reviewedConclusion} by {who(job.reviewedBy)}
          {job.reviewedComment ? `: “${job.reviewedComment}”` : ''}
        </div>
      )}
      {job.event && <div class="small muted">{job.event.replace(/_/g, ' ')}</div>}
      {ci !== undefined && (
        <a class="small" href={`/ui/${props.org}/${props.repo}/runs/${ci}`}>
          CI run #{ci}
        </a>
      )}
      {job.status === 'waiting' && (props.canApprove || props.canReject) && (
        <div class="actions">
          {props.canApprove && (
            <button type="button" class="primary" onClick={() => props.onReview('approved')}>
              Approve
            </button>
          )}
          <button type="button" onClick={() => props.onReview('rejected')}>
            Reject
          </button>
        </div>
      )}
    </li>
  );
}
