import assert from 'node:assert/strict';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import type { RunRecord } from '../../src/core/run/model.js';
import { openPostgresDb } from '../../src/store/postgres.js';
import { SqlRunStore } from '../../src/store/sql-run-store.js';
import { runJson } from '../../src/transport/run-json.js';
import { waitFor } from '../helpers/cli.js';
import { tempPostgresUrl } from '../helpers/postgres.js';
import { tempDir, tempRepo } from '../helpers/repo.js';
import { ADMIN_TOKEN, registerRepo, startTestServer, type TestServer } from '../helpers/server.js';

interface Node {
  slug?: string;
  status: string;
  dates: Record<string, string | undefined>;
  exit_code?: number;
  error_message?: string;
  workflows?: Node[];
  tasks?: Node[];
  cubes?: Node[];
}

/** What a reader must see the same as the store: every node's status, dates, exit code and error. */
function shape(node: Node): unknown {
  const children = node.workflows ?? node.tasks ?? node.cubes;
  return {
    slug: node.slug,
    status: node.status,
    dates: node.dates,
    exit_code: node.exit_code,
    error_message: node.error_message,
    ...(children ? { children: children.map(shape) } : {}),
  };
}

const storeShape = (run: RunRecord) =>
  shape(runJson(run, { artifactUrl: () => undefined }) as unknown as Node);

const RANK: Record<string, number> = { created: 0, prepared: 0, processing: 1 };
const rank = (status: string) => RANK[status] ?? 2;

/** Every node of `seen` is where the store's is, or further along; a finished node is exactly the store's. */
function notBehind(seen: Node, stored: Node, path = 'run'): void {
  assert.ok(
    rank(seen.status) >= rank(stored.status),
    `${path}: ${seen.status}, the store has ${stored.status}`,
  );
  if (rank(stored.status) === 2) assert.equal(seen.status, stored.status, path);
  const a = seen.workflows ?? seen.tasks ?? seen.cubes ?? [];
  const b = stored.workflows ?? stored.tasks ?? stored.cubes ?? [];
  b.forEach((child, i) => notBehind(a[i] as Node, child, `${path}/${child.slug}`));
}

/**
 * Live views on two replicas of one PostgreSQL database: GetRun and GetWorkflow, read while the
 * run moves on, match the store after each change on the replica executing the run and on the
 * other one, and are never behind it.
 */
describe('live views of a running run, on both replicas', () => {
  let url = '';
  let a: TestServer;
  let b: TestServer;
  let store: SqlRunStore;
  let repoId = '';
  const gates = tempDir('conveyor-live-gates-');
  const wait = (name: string) => `while [ ! -e ${join(gates, name)} ]; do sleep 0.02; done; echo ${name}`;
  const base = '/repos/acme/app/cicd/runs';

  before(async () => {
    url = await tempPostgresUrl();
    a = await startTestServer({ databaseUrl: url });
    b = await startTestServer({ databaseUrl: url });
    store = new SqlRunStore(await openPostgresDb(url));
    const cube = (name: string, needs = "['-']") =>
      `{name: ${name}, needs: ${needs}, script: ["${wait(name)}"]}`;
    ({ id: repoId } = await registerRepo(
      a,
      tempRepo({
        '.conveyor/ci.yaml': `workflows:\n  w:\n    tasks:\n      - {name: t1, cubes: [${cube('x')}, ${cube('y')}]}\n      - {name: t2, needs: [t1], cubes: [${cube('z')}]}\n`,
      }),
    ));
  });
  after(async () => {
    for (const name of ['x', 'y', 'z']) writeFileSync(join(gates, name), '');
    await a.close();
    await b.close();
    await store.close();
  });

  it('match the store after every change, and are never behind it while the run moves on', async () => {
    const started = await a.api<{ slug: string; id: string }>('POST', base, { workflows: [{ name: 'w' }] });
    assert.equal(started.status, 200, JSON.stringify(started.body));
    const { slug, id } = started.body;
    const path = `${base}/${slug}`;
    const record = async () => (await store.findRun(repoId, slug)) as RunRecord;
    const executing = await executingReplica(url, id, [a, b]);
    const other = executing === a ? b : a;
    const get = async (t: TestServer, suffix = '', headers: Record<string, string> = {}) => {
      const response = await fetch(`${t.url}${path}${suffix}`, {
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...headers },
      });
      assert.equal(response.status, 200, await response.clone().text());
      return { body: (await response.json()) as Node, etag: response.headers.get('etag') ?? '' };
    };
    const steps: [string | undefined, (run: RunRecord) => boolean][] = [
      [undefined, (run) => cubes(run).x === 'processing' && cubes(run).y === 'processing'],
      ['x', (run) => cubes(run).x === 'success' && cubes(run).y === 'processing'],
      ['y', (run) => cubes(run).y === 'success' && cubes(run).z === 'processing'],
      ['z', (run) => run.status === 'success'],
    ];
    for (const [gate, settled] of steps) {
      if (gate) writeFileSync(join(gates, gate), '');
      // While it moves: the store read first, then the executing replica, which must not be behind.
      const stored = await waitFor(
        async () => {
          const run = await record();
          notBehind((await get(executing)).body, storeShape(run) as Node);
          return settled(run) ? run : undefined;
        },
        `the store to show the run after gate ${gate ?? '(start)'}`,
        20_000,
      );
      const expected = storeShape(stored);
      // Settled: the executing replica shows exactly the store's record, at once.
      assert.deepEqual(shape((await get(executing)).body), expected, 'GetRun on the executing replica');
      const workflow = (await get(executing, '/w')).body;
      assert.deepEqual(shape(workflow), (expected as { children: unknown[] }).children[0], 'GetWorkflow');
      // The other replica: at once when asked to revalidate, and by itself within its check interval.
      assert.deepEqual(
        shape((await get(other, '', { 'cache-control': 'no-cache' })).body),
        expected,
        'GetRun (no-cache) on the other replica',
      );
      await waitFor(
        async () =>
          isDeepEqual(
            shape((await get(other, '/w')).body),
            (expected as { children: unknown[] }).children[0],
          ),
        'GetWorkflow on the other replica to catch up',
      );
      await waitFor(
        async () => isDeepEqual(shape((await get(other)).body), expected),
        'GetRun on the other replica',
      );
    }
    assert.ok(existsSync(join(gates, 'z')));
  });

  it('answers 304 to the ETag of the current revision, and the body again after a change', async () => {
    for (const name of ['x', 'y', 'z']) rmSync(join(gates, name), { force: true });
    const started = await a.api<{ slug: string }>('POST', base, { workflows: [{ name: 'w' }] });
    const path = `${a.url}${base}/${started.body.slug}`;
    const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
    await waitFor(async () => {
      const run = await store.findRun(repoId, started.body.slug);
      return run && cubes(run).x === 'processing' && cubes(run).y === 'processing';
    }, 'both cubes of t1 to wait at their gates');
    const first = await fetch(path, { headers: { ...auth, 'cache-control': 'no-cache' } });
    const etag = first.headers.get('etag') ?? '';
    assert.match(etag, /^W\/".+"$/);
    const again = await fetch(path, { headers: { ...auth, 'if-none-match': etag } });
    assert.equal(again.status, 304);
    writeFileSync(join(gates, 'x'), '');
    await waitFor(async () => {
      const now = await fetch(path, { headers: { ...auth, 'if-none-match': etag } });
      return now.status === 200 ? now : undefined;
    }, 'a new revision');
    // No access, no view: the check is made per request.
    const anonymous = await fetch(path, { headers: { 'if-none-match': etag } });
    assert.ok(anonymous.status === 401 || anonymous.status === 404, String(anonymous.status));
  });
});

function cubes(run: RunRecord): Record<string, string> {
  return Object.fromEntries(
    run.workflows.flatMap((w) => w.tasks.flatMap((t) => t.cubes.map((c) => [c.slug, c.status]))),
  );
}

function isDeepEqual(x: unknown, y: unknown): boolean {
  try {
    assert.deepEqual(x, y);
    return true;
  } catch {
    return false;
  }
}

/** The replica whose dispatcher claimed the run (its owner name ends with its data dir). */
async function executingReplica(url: string, runId: string, servers: TestServer[]): Promise<TestServer> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const owner = await waitFor(async () => {
      const rows = await client.query<{ claimed_by: string | null }>(
        'select claimed_by from runs where id = $1',
        [runId],
      );
      return rows.rows[0]?.claimed_by ?? undefined;
    }, 'the run to be claimed');
    const found = servers.find((s) => owner.endsWith(s.dataDir));
    assert.ok(found, `owner ${owner}`);
    return found;
  } finally {
    await client.end();
  }
}
