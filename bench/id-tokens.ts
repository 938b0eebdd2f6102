import { createPrivateKey, generateKeyPairSync, sign } from 'node:crypto';
import { OidcIssuer, type TokenRequest } from '../src/app/id-tokens.js';
import { SecretBox } from '../src/app/secret-box.js';
import type { RunRecord } from '../src/core/run/model.js';
import { systemClock } from '../src/ports/clock.js';
import { openSqliteDb } from '../src/store/sqlite.js';
import { SqlIdentityStore } from '../src/store/sql-identity-store.js';
import { median, printTable } from './harness.js';

const COUNT = 2000;

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

/**
 * Minting an id token (RS256, the key read from the store and cached, claims of a real run) against
 * a bare RS256 signature of a payload of the same size with node:crypto, in the same run.
 * Target: p99 under 5 ms.
 */
export async function benchIdTokens(): Promise<void> {
  const db = await openSqliteDb(':memory:');
  const issuer = new OidcIssuer(
    new SqlIdentityStore(db),
    new SecretBox('bench-secret-key-0123456789'),
    systemClock,
    {
      issuer: () => 'https://conveyor.example',
    },
  );
  const run = {
    id: 'r',
    repoId: 'repo-id',
    slug: '42',
    status: 'processing',
    dates: { createdAt: 0, updatedAt: 0 },
    eventType: 'push',
    errorMessages: [],
    user: { id: 'u', slug: 'alice' },
    context: {
      env: {},
      configFile: '.sourcecraft/ci.yaml',
      commit: { sha: 'a'.repeat(40), ref: 'refs/heads/main', author: 'a', message: 'm', timestamp: '' },
    },
    workflows: [],
    version: 0,
  } as RunRecord;
  const request: TokenRequest = {
    connection: {
      scope: 'repo',
      scopeId: 'repo-id',
      name: 'deploy',
      audience: 'https://iam.example',
      serviceAccountId: 'sa',
      createdAt: 0,
      updatedAt: 0,
    },
    scope: 'ref',
    repo: { id: 'repo-id', path: 'acme/app' },
    run,
    workflow: { slug: 'deploy' } as TokenRequest['workflow'],
    task: { slug: 'release' } as TokenRequest['task'],
  };
  const sample = await issuer.mint(request); // generates and stores the first key
  const payload = Buffer.from(sample.id_token.split('.').slice(0, 2).join('.'));
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const key = createPrivateKey(privateKey.export({ type: 'pkcs8', format: 'pem' }));
  const mint: number[] = [];
  const bare: number[] = [];
  for (let i = 0; i < COUNT; i++) {
    let t = performance.now();
    sign('sha256', payload, key);
    bare.push(performance.now() - t);
    t = performance.now();
    await issuer.mint(request);
    mint.push(performance.now() - t);
  }
  await db.destroy();
  const row = (what: string, values: number[]) => [
    what,
    median(values).toFixed(3),
    percentile(values, 99).toFixed(3),
    (median(values) / median(bare)).toFixed(2),
  ];
  printTable(
    `Id token minting (${COUNT} tokens; target p99 < 5 ms)`,
    ['what', 'p50 ms', 'p99 ms', 'ratio'],
    [
      row('node:crypto RS256 signature of the same bytes', bare),
      row('OidcIssuer.mint (claims, kid, JWS, RS256)', mint),
    ],
  );
}
