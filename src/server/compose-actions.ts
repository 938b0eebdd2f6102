import type { ActionDeps } from '../app/actions/run-action.js';
import type { ImageBuilder } from '../ports/action-source.js';
import { DEFAULT_ACTIONS_URL, GitActionSource } from '../workspace/action-cache.js';

/**
 * Where GitHub Actions come from (CONVEYOR_ACTIONS_URL, default https://github.com) and where they
 * are cached; node actions run with the Node.js running Conveyor. Used by the server and `conveyor run`.
 */
export function actionDeps(env: NodeJS.ProcessEnv, cacheDir: string, images?: ImageBuilder): ActionDeps {
  const base = (env.CONVEYOR_ACTIONS_URL || DEFAULT_ACTIONS_URL).replace(/\/+$/, '');
  return {
    source: new GitActionSource(cacheDir, base),
    ...(images ? { images } : {}),
    node: process.execPath,
    serverUrl: base,
  };
}
