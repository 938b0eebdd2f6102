import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { OidcIssuer } from '../app/id-tokens.js';
import type { ServiceConnection } from '../ports/identity-store.js';
import { UsageError } from './output.js';

/** `iss` of tokens `conveyor run` mints, unless CONVEYOR_OIDC_ISSUER names another. */
export const LOCAL_ISSUER = 'http://localhost/conveyor-local';

/** `--service-connection NAME=AUDIENCE[,SERVICE_ACCOUNT_ID[,FOLDER_ID]]`, repeatable. */
export function parseConnectionFlags(
  values: readonly string[],
  now: number,
): Record<string, ServiceConnection> {
  const out: Record<string, ServiceConnection> = {};
  for (const value of values) {
    const eq = value.indexOf('=');
    const name = value.slice(0, Math.max(eq, 0));
    const [audience = '', serviceAccountId, folderId] = value.slice(eq + 1).split(',');
    if (eq <= 0 || audience === '' || !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name))
      throw new UsageError(
        `--service-connection '${value}' is not NAME=AUDIENCE[,SERVICE_ACCOUNT_ID[,FOLDER_ID]]`,
        'e.g. --service-connection default-service-connection=https://iam.example/aud,sa-123,folder-9',
      );
    out[name] = {
      scope: 'repo',
      scopeId: 'local',
      name,
      audience,
      ...(serviceAccountId ? { serviceAccountId } : {}),
      ...(folderId ? { folderId } : {}),
      createdAt: now,
      updatedAt: now,
    };
  }
  return out;
}

/** Writes the local issuer's discovery document and JWKS into the state dir, to verify its tokens with. */
export async function writeLocalIssuer(stateDir: string, issuer: OidcIssuer): Promise<string> {
  const dir = join(stateDir, 'oidc');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'openid-configuration.json'), `${JSON.stringify(issuer.discovery(), null, 2)}\n`);
  const jwks = join(dir, 'jwks.json');
  writeFileSync(jwks, `${JSON.stringify(await issuer.jwks(), null, 2)}\n`);
  return jwks;
}
