import { useSignal } from '@preact/signals';
import { useEffect } from 'preact/hooks';
import { api } from '../lib/api.js';
import type { Repo } from '../lib/types.js';

export function RepositoriesPage() {
  const repos = useSignal<Repo[] | undefined>(undefined);
  const error = useSignal('');
  useEffect(() => {
    api<{ repositories: Repo[] }>('GET', '/repos').then(
      (r) => (repos.value = r.repositories),
      (e: Error) => (error.value = e.message),
    );
  }, []);
  return (
    <main class="page">
      <h1>Repositories</h1>
      {error.value && <p class="error">{error.value}</p>}
      {repos.value?.length === 0 && <p class="muted">No repository you can see yet.</p>}
      <ul class="list">
        {repos.value?.map((r) => (
          <li key={r.id} class="row">
            <a class="strong" href={`/ui/${r.organization.slug}/${r.slug}/runs`}>
              {r.organization.slug}/{r.slug}
            </a>
            <span class="muted">{r.description || r.visibility}</span>
            <a class="small" href={`/ui/${r.organization.slug}/${r.slug}/deployments`}>
              Deployments
            </a>
          </li>
        ))}
      </ul>
    </main>
  );
}
