import { join } from 'node:path';
import type { Kysely } from 'kysely';
import type { RunServices } from '../app/create-run.js';
import { DeployEngine } from '../app/deploy-engine.js';
import type { RunDispatcher } from '../app/run-dispatcher.js';
import type { RunRecord } from '../core/run/model.js';
import type { Database } from '../store/schema.js';
import { SqlDeploymentStore } from '../store/sql-deployment-store.js';
import type { ServerContext } from './context.js';

/**
 * The deployment half: its store, its engine, and the two links to the CI half (a deployment's
 * CI run ending moves its job on; cancelling a deployment cancels its CI run).
 */
export function composeDeployments(
  db: Kysely<Database>,
  services: RunServices,
  dataDir: string,
  dispatcher: () => RunDispatcher,
  log: (message: string) => void,
): {
  deploy: ServerContext['deploy'];
  onRunEnded: (run: RunRecord) => Promise<void>;
  tick: () => Promise<void>;
} {
  const deployments = new SqlDeploymentStore(db);
  const releaseDir = (projectId: string, releaseId: string) =>
    join(
      dataDir,
      'releases',
      projectId.replace(/[^A-Za-z0-9-]/g, '_'),
      releaseId.replace(/[^A-Za-z0-9-]/g, '_'),
    );
  const engine = new DeployEngine({
    deployments,
    runs: services,
    releaseDir,
    log,
    findRepo: (projectId) => services.directory.findRepoById(projectId),
    cancelCiRun: async (repo, slug, reason) => {
      const run = await services.runs.findRun(repo.id, slug);
      if (run) await dispatcher().cancel(run, reason);
    },
  });
  const onRunEnded = async (run: RunRecord): Promise<void> => {
    if (run.context.trigger !== 'deployment') return;
    await services.directory
      .findRepoById(run.repoId)
      .then((repo) => repo && engine.onCiRunEnded(repo, run))
      .catch((error: unknown) => log(`deployment after run ${run.id}: ${String(error)}`));
  };
  return { deploy: { deployments, engine, releaseDir }, onRunEnded, tick: () => engine.tick() };
}
