import { RepoTabs } from '../components/repo-tabs.js';

export function DeploymentsPage(props: { org: string; repo: string; rest: string[] }) {
  return (
    <main class="page">
      <RepoTabs org={props.org} repo={props.repo} current="deployments" />
      <h1>Deployments</h1>
      <p class="muted">Deployment workflows of this repository appear here.</p>
    </main>
  );
}
