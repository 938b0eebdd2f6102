import type { Decoder, Entry } from './decoder.js';
import { didYouMean } from './diagnostics.js';
import type { TokenDef, TokenScope } from './model.js';

const SCOPES: readonly TokenScope[] = ['org', 'repo', 'ref'];

/** The fields a `${{ tokens.NAME.FIELD }}` reference may read. */
export const TOKEN_FIELDS = ['id_token', 'service_account_id', 'folder_id'] as const;

/**
 * Decodes top-level `tokens:`: `NAME: {service_connection: CONNECTION, scope: org|repo|ref}`.
 * A missing scope means `repo` (said with a warning: SourceCraft's examples always write it).
 */
export function decodeTokens(d: Decoder, entry: Entry | undefined): TokenDef[] {
  if (!entry) return [];
  const items = d.entries(entry.value, 'tokens', entry.pos) ?? [];
  const out: TokenDef[] = [];
  for (const item of items) {
    const label = `token '${item.key}'`;
    if (!/^[A-Za-z_][A-Za-z0-9_-]*$/.test(item.key)) {
      d.bag.error(
        item.keyPos,
        `'${item.key}' is not a valid token name`,
        'use letters, digits, - and _, starting with a letter',
      );
      continue;
    }
    const fields = d.entries(item.value, label, item.pos);
    if (!fields) continue;
    d.checkKeys(fields, ['service_connection', 'scope', 'description'], label);
    const connection = fields.find((f) => f.key === 'service_connection');
    const scopeEntry = fields.find((f) => f.key === 'scope');
    if (!connection) {
      d.bag.error(
        item.keyPos,
        `${label} has no service_connection`,
        'name the service connection set on the server: service_connection: my-connection',
      );
      continue;
    }
    const name = d.name(connection, `service_connection of ${label}`);
    let scope: TokenScope = 'repo';
    if (!scopeEntry) {
      d.bag.warning(
        item.keyPos,
        `${label} has no scope; it is 'repo' (the token's subject names this repository)`,
        'write scope: org, repo or ref',
      );
    } else {
      const given = d.name(scopeEntry, `scope of ${label}`);
      if (given !== undefined && !(SCOPES as readonly string[]).includes(given)) {
        d.bag.error(
          scopeEntry.pos,
          `scope '${given}' of ${label} is not org, repo or ref`,
          didYouMean(given, SCOPES) ??
            'org: any repository of the organization; repo: this repository; ref: this branch or tag',
        );
        continue;
      }
      if (given) scope = given as TokenScope;
    }
    if (name) out.push({ name: item.key, serviceConnection: name, scope, pos: item.keyPos });
  }
  return out;
}
