import { useSignal } from '@preact/signals';
import { useEffect } from 'preact/hooks';
import { api, repoApi } from '../lib/api.js';
import { Dialog } from '../components/dialog.js';

interface WorkflowInfo {
  name: string;
  inputs: { name: string; type: string; required: boolean; default?: string; description?: string }[];
}

/** SourceCraft's manual launch: a branch, a workflow, its inputs. */
export function NewRunDialog(props: {
  org: string;
  repo: string;
  branches: string[];
  onClose: () => void;
  onCreated: (slug: string) => void;
}) {
  const { org, repo } = props;
  const branch = useSignal(props.branches[0] ?? '');
  const workflows = useSignal<WorkflowInfo[]>([]);
  const chosen = useSignal('');
  const values = useSignal<Record<string, string>>({});
  const error = useSignal('');
  const busy = useSignal(false);
  useEffect(() => {
    error.value = '';
    const q = branch.value ? `?branch=${encodeURIComponent(branch.value)}` : '';
    api<{ workflows: WorkflowInfo[]; errors: string[] }>(
      'GET',
      `${repoApi(org, repo)}/cicd/workflows${q}`,
    ).then(
      (r) => {
        workflows.value = r.workflows;
        if (r.errors.length) error.value = r.errors.join('\n');
        if (!r.workflows.some((w) => w.name === chosen.value)) pick(r.workflows[0]?.name ?? '');
      },
      (e: Error) => (error.value = e.message),
    );
  }, [branch.value]);
  const pick = (name: string) => {
    chosen.value = name;
    const wf = workflows.value.find((w) => w.name === name);
    values.value = Object.fromEntries((wf?.inputs ?? []).map((i) => [i.name, i.default ?? '']));
  };
  const workflow = workflows.value.find((w) => w.name === chosen.value);
  const submit = async (event: Event) => {
    event.preventDefault();
    busy.value = true;
    try {
      const run = await api<{ slug: string }>('POST', `${repoApi(org, repo)}/cicd/runs`, {
        ...(branch.value ? { head: { branch: branch.value } } : {}),
        workflows: [
          {
            name: chosen.value,
            values: Object.entries(values.value).map(([name, value]) => ({ name, value })),
          },
        ],
      });
      props.onCreated(String(run.slug));
    } catch (e) {
      error.value = e instanceof Error ? e.message : String(e);
    } finally {
      busy.value = false;
    }
  };
  return (
    <Dialog title="New run" onClose={props.onClose}>
      <form class="stack" onSubmit={(e) => void submit(e)}>
        <label>
          Branch
          <select value={branch.value} onChange={(e) => (branch.value = e.currentTarget.value)}>
            {props.branches.map((b) => (
              <option key={b}>{b}</option>
            ))}
          </select>
        </label>
        <label>
          Workflow
          <select value={chosen.value} onChange={(e) => pick(e.currentTarget.value)}>
            {workflows.value.map((w) => (
              <option key={w.name}>{w.name}</option>
            ))}
          </select>
        </label>
        {workflow?.inputs.map((i) => (
          <label key={i.name}>
            {i.name}
            {i.required ? ' (required)' : ''}
            {i.type === 'boolean' ? (
              <select
                value={values.value[i.name] ?? ''}
                onChange={(e) => (values.value = { ...values.value, [i.name]: e.currentTarget.value })}
              >
                <option value="true">true</option>
                <option value="false">false</option>
              </select>
            ) : (
              <input
                name={`input-${i.name}`}
                inputMode={i.type === 'number' ? 'numeric' : 'text'}
                required={i.required}
                value={values.value[i.name] ?? ''}
                onInput={(e) => (values.value = { ...values.value, [i.name]: e.currentTarget.value })}
              />
            )}
            {i.description && <span class="muted small">{i.description}</span>}
          </label>
        ))}
        {error.value && (
          <p class="error pre" role="alert">
            {error.value}
          </p>
        )}
        <div class="actions">
          <button type="button" onClick={props.onClose}>
            Close
          </button>
          <button type="submit" class="primary" disabled={busy.value || !chosen.value}>
            Start run
          </button>
        </div>
      </form>
    </Dialog>
  );
}
