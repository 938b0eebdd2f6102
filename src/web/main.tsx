import { render } from 'preact';
import { useEffect } from 'preact/hooks';
import { loadSession, me, signOut } from './lib/api.js';
import { installRouter, location, navigate } from './lib/router.js';
import { theme, toggleTheme } from './lib/theme.js';
import { RepositoriesPage } from './pages/repositories.js';
import { RunPage } from './pages/run.js';
import { RunsPage } from './pages/runs.js';
import { SignInPage } from './pages/sign-in.js';
import { CubePage } from './pages/cube.js';
import { DeploymentsPage } from './pages/deployments.js';

function Page() {
  const path = decodeURI(location.value.path).replace(/\/+$/, '');
  const parts = path.split('/').slice(2); // after "/ui"
  const [org, repo, section, run, workflow, task, cube] = parts;
  if (!org) return <RepositoriesPage />;
  if (org && repo && section === 'runs' && run && workflow && task && cube)
    return <CubePage org={org} repo={repo} run={run} workflow={workflow} task={task} cube={cube} />;
  if (org && repo && section === 'runs' && run) return <RunPage org={org} repo={repo} slug={run} />;
  if (org && repo && section === 'runs') return <RunsPage org={org} repo={repo} />;
  if (org && repo && section === 'deployments')
    return <DeploymentsPage org={org} repo={repo} rest={parts.slice(3)} />;
  if (org && repo && !section) {
    navigate(`/ui/${org}/${repo}/runs`, true);
    return null;
  }
  return (
    <main class="page">
      <h1>Not found</h1>
      <p>
        No page at {path}. <a href="/ui/">Repositories</a>
      </p>
    </main>
  );
}

function App() {
  useEffect(() => void loadSession(), []);
  const user = me.value;
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href="/ui/">
          Conveyor
        </a>
        <nav aria-label="Account" class="account">
          <button
            type="button"
            class="ghost"
            onClick={toggleTheme}
            aria-label={`Switch to ${theme.value === 'dark' ? 'light' : 'dark'} theme`}
          >
            {theme.value === 'dark' ? '☀' : '☾'}
          </button>
          {user && (
            <>
              <span class="who">{user.slug}</span>
              <button type="button" class="ghost" onClick={() => void signOut().then(() => navigate('/ui/'))}>
                Sign out
              </button>
            </>
          )}
        </nav>
      </header>
      <div id="main">
        {user === undefined ? <p class="page muted">Loading…</p> : user === null ? <SignInPage /> : <Page />}
      </div>
    </>
  );
}

installRouter();
const root = document.getElementById('app');
if (root) render(<App />, root);
