import { useSignal } from '@preact/signals';
import { Dialog } from './dialog.js';

/** Asks for a comment, then cancels a run or a deployment; the server's refusal is shown in place. */
export function CancelDialog(props: {
  /** What is canceled, as the buttons name it: "run", "deployment". */
  what: string;
  /** The label of the button that closes without canceling. */
  keep: string;
  onClose: () => void;
  onCancel: (comment: string) => Promise<void>;
}) {
  const comment = useSignal('');
  const error = useSignal('');
  return (
    <Dialog title={`Cancel this ${props.what}`} onClose={props.onClose}>
      <form
        class="stack"
        onSubmit={(e) => {
          e.preventDefault();
          props.onCancel(comment.value).catch((x: Error) => (error.value = x.message));
        }}
      >
        <label>
          Comment
          <textarea rows={3} value={comment.value} onInput={(e) => (comment.value = e.currentTarget.value)} />
        </label>
        {error.value && <p class="error">{error.value}</p>}
        <div class="actions">
          <button type="button" onClick={props.onClose}>
            {props.keep}
          </button>
          <button type="submit" class="danger">
            Cancel {props.what}
          </button>
        </div>
      </form>
    </Dialog>
  );
}
