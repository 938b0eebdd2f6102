export function RepoTabs(props: { org: string; repo: string; current: 'runs' | 'deployments' }) {
  const { org, repo, current } = props;
  return (
    <nav class="crumbs" aria-label="Repository">
      <a href="/ui/">Repositories</a>
      <span aria-hidden="true">/</span>
      <span class="strong">
        {org}/{repo}
      </span>
      <a href={`/ui/${org}/${repo}/runs`} aria-current={current === 'runs' ? 'page' : undefined}>
        Runs
      </a>
      <a
        href={`/ui/${org}/${repo}/deployments`}
        aria-current={current === 'deployments' ? 'page' : undefined}
      >
        Deployments
      </a>
    </nav>
  );
}
