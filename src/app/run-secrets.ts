import type { DirectoryStore, Repo, SecretScope } from '../ports/directory-store.js';
import type { SecretBox } from './secret-box.js';

/**
 * A run's secrets: the organization's, overridden by the repository's own of the same name,
 * overridden by a deployment environment's; decrypted with the server key. Every replica decrypts
 * with its own key, so replicas on one database must share it (CONVEYOR_SECRET_KEY, docs/workers.md).
 */
export async function runSecrets(
  directory: DirectoryStore,
  box: SecretBox,
  repo: Pick<Repo, 'id' | 'orgId'>,
  environmentId?: string,
): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const scopes: [SecretScope, string][] = [
    ['org', repo.orgId],
    ['repo', repo.id],
  ];
  if (environmentId) scopes.push(['env', environmentId]);
  for (const [scope, id] of scopes) {
    for (const [name, value] of Object.entries(await directory.secretValues(scope, id)))
      out[name] = box.decrypt(value);
  }
  return out;
}
