import { useSignal } from '@preact/signals';
import { signIn } from '../lib/api.js';

export function SignInPage() {
  const token = useSignal('');
  const error = useSignal('');
  const busy = useSignal(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    busy.value = true;
    error.value = '';
    try {
      await signIn(token.value);
      token.value = '';
    } catch (e) {
      error.value = e instanceof Error ? e.message : String(e);
    } finally {
      busy.value = false;
    }
  };
  return (
    <main class="page narrow">
      <h1>Sign in to Conveyor</h1>
      <form class="card" onSubmit={(e) => void submit(e)}>
        <label for="token">Personal access token</label>
        <input
          id="token"
          type="password"
          autocomplete="off"
          required
          value={token.value}
          onInput={(e) => (token.value = e.currentTarget.value)}
          aria-describedby="token-help"
        />
        <p id="token-help" class="muted small">
          Create one with <code>conveyor tokens create</code>. The page keeps a session cookie, never the
          token.
        </p>
        {error.value && (
          <p class="error" role="alert">
            {error.value}
          </p>
        )}
        <button type="submit" class="primary" disabled={busy.value}>
          Sign in
        </button>
      </form>
    </main>
  );
}
