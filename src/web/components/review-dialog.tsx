import { useSignal } from '@preact/signals';
import { api } from '../lib/api.js';
import type { Job } from '../lib/deploy-types.js';
import { Dialog } from './dialog.js';

export interface PendingReview {
  conclusion: 'approved' | 'rejected';
  jobs: { runId: string; job: Job }[];
}

/**
 * Approve or reject one or several waiting jobs with a comment: the button that opened this was
 * the first interaction, the confirm button is the second.
 */
export function ReviewDialog(props: { projectId: string; review: PendingReview; onClose: () => void }) {
  const { review, projectId } = props;
  const comment = useSignal('');
  const error = useSignal('');
  const busy = useSignal(false);
  const verb = review.conclusion === 'approved' ? 'Approve' : 'Reject';
  const names = review.jobs.map((j) => j.job.environment?.name ?? j.job.environmentId).join(', ');
  const submit = async (event: Event) => {
    event.preventDefault();
    busy.value = true;
    const failed: string[] = [];
    for (const { runId, job } of review.jobs)
      try {
        await api('POST', `/api/projects/${projectId}/runs/${runId}/jobs/${job.id}/review`, {
          conclusion: review.conclusion,
          comment: comment.value,
        });
      } catch (e) {
        failed.push(`${job.environment?.name ?? job.id}: ${e instanceof Error ? e.message : String(e)}`);
      }
    busy.value = false;
    if (failed.length) error.value = failed.join('\n');
    else props.onClose();
  };
  return (
    <Dialog
      title={`${verb} ${review.jobs.length > 1 ? `${review.jobs.length} deployments` : names}`}
      onClose={props.onClose}
    >
      <form class="stack" onSubmit={(e) => void submit(e)}>
        {review.jobs.length > 1 && <p class="muted">{names}</p>}
        <label>
          Comment{review.conclusion === 'rejected' ? ' (required)' : ''}
          <textarea
            rows={3}
            autoFocus
            required={review.conclusion === 'rejected'}
            value={comment.value}
            onInput={(e) => (comment.value = e.currentTarget.value)}
          />
        </label>
        {error.value && (
          <p class="error pre" role="alert">
            {error.value}
          </p>
        )}
        <div class="actions">
          <button type="button" onClick={props.onClose}>
            Close
          </button>
          <button
            type="submit"
            class={review.conclusion === 'approved' ? 'primary' : 'danger'}
            disabled={busy.value}
          >
            {verb}
          </button>
        </div>
      </form>
    </Dialog>
  );
}
