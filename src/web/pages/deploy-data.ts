import { useSignal } from '@preact/signals';
import { useEffect } from 'preact/hooks';
import { api, repoApi } from '../lib/api.js';
import { live } from '../lib/live.js';
import type { DeployRun, Environment, Page, Release } from '../lib/deploy-types.js';

export interface DeployData {
  projectId: string;
  envs: Environment[];
  runs: DeployRun[];
  releases: Release[];
}

/** The project's deployment state, reloaded whenever the project's event stream says it changed. */
export function useDeployData(org: string, repo: string) {
  const data = useSignal<DeployData | undefined>(undefined);
  const error = useSignal('');
  useEffect(() => {
    let stream: { stop(): void } | undefined;
    let stopped = false;
    let loading = false;
    let again = false;
    const load = async (projectId: string) => {
      if (loading) {
        again = true;
        return;
      }
      loading = true;
      try {
        const base = `/api/projects/${projectId}`;
        const [envs, runs, releases] = await Promise.all([
          api<Environment[]>('GET', `${base}/environments`),
          api<Page<DeployRun>>('GET', `${base}/runs?pageSize=50`),
          api<Page<Release>>('GET', `${base}/releases?pageSize=50`),
        ]);
        if (!stopped) data.value = { projectId, envs, runs: runs.results, releases: releases.results };
      } catch (e) {
        error.value = e instanceof Error ? e.message : String(e);
      } finally {
        loading = false;
        if (again) {
          again = false;
          void load(projectId);
        }
      }
    };
    api<{ id: string }>('GET', repoApi(org, repo)).then(
      (r) => {
        if (stopped) return;
        void load(r.id);
        stream = live(`/api/projects/${r.id}/events`, { changed: () => void load(r.id) });
      },
      (e: Error) => (error.value = e.message),
    );
    return () => {
      stopped = true;
      stream?.stop();
    };
  }, [org, repo]);
  return { data, error };
}
