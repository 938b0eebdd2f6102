import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { waitFor } from '../helpers/cli.js';
import { tempPostgresUrl } from '../helpers/postgres.js';
import { processesWith } from '../helpers/processes.js';
import { tempRepo } from '../helpers/repo.js';
import { registerRepo, startTestServer, type TestServer } from '../helpers/server.js';

/** Two servers on one PostgreSQL database, each with its own data dir, as replicas behind a balancer. */
describe('two replicas on one PostgreSQL', () => {
  let url = '';
  let a: TestServer;
  let b: TestServer;
  const marker = `${Math.floor(Math.random() * 1e6)}.2468`;
  const base = '/repos/acme/app/cicd/runs';

  before(async () => {
    url = await tempPostgresUrl();
    a = await startTestServer({ databaseUrl: url });
    b = await startTestServer({ databaseUrl: url });
    await registerRepo(
      a,
      tempRepo({
        '.conveyor/ci.yaml': `workflows:\n  quick:\n    tasks: [{name: t, cubes: [{name: c, script: ["echo hi"]}]}]\n  slow:\n    tasks: [{name: t, cubes: [{name: c, script: ["sleep ${marker}"]}]}]\n`,
      }),
    );
  });
  after(async () => {
    await a.close();
    await b.close();
  });

  it('runs every run exactly once, whichever replica took the request', async () => {
    const slugs: string[] = [];
    for (let i = 0; i < 6; i++) {
      const via = i % 2 === 0 ? a : b;
      const started = await via.api<{ slug: string }>('POST', base, { workflows: [{ name: 'quick' }] });
      assert.equal(started.status, 200, JSON.stringify(started.body));
      slugs.push(started.body.slug);
    }
    assert.equal(new Set(slugs).size, 6, 'slugs stay unique across replicas');
    for (const slug of slugs) {
      let last: unknown;
      const run = await waitFor(
        async () => {
          const got = await a.api<{ status: string }>('GET', `${base}/${slug}`);
          last = got.body;
          return ['success', 'failed', 'canceled', 'timeout'].includes(got.body.status)
            ? got.body
            : undefined;
        },
        `run ${slug}`,
        20_000,
      ).catch(async (error: unknown) => {
        const workers = (await a.api('GET', '/workers')).body;
        throw new Error(`${String(error)}: ${JSON.stringify(last)}\nworkers: ${JSON.stringify(workers)}`);
      });
      assert.equal(run.status, 'success', JSON.stringify(run));
    }
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const owners = await client.query<{ claimed_by: string; n: string }>(
        'select claimed_by, count(*) as n from runs group by claimed_by',
      );
      assert.equal(owners.rows.length, 2, `both replicas executed runs: ${JSON.stringify(owners.rows)}`);
    } finally {
      await client.end();
    }
  });

  it('cancels, through one replica, a run the other executes', async () => {
    const started = await a.api<{ slug: string }>('POST', base, { workflows: [{ name: 'slow' }] });
    await waitFor(() => processesWith(`sleep ${marker}`).length > 0 || undefined, 'the slow cube to start');
    // Whichever replica claimed it, ask the other one.
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const owner = await client
      .query<{ claimed_by: string }>('select claimed_by from runs where slug = $1', [
        Number(started.body.slug),
      ])
      .finally(() => client.end());
    const other = owner.rows[0]?.claimed_by.endsWith(a.dataDir) ? b : a;
    const asked = await other.api<{ status: string }>('POST', `${base}/${started.body.slug}/cancel`, {});
    assert.equal(asked.status, 202, 'the other replica was asked');
    const ended = await waitFor(
      async () => {
        const got = await b.api<{ status: string; error_messages: string[] }>(
          'GET',
          `${base}/${started.body.slug}`,
        );
        return got.body.status === 'canceled' ? got.body : undefined;
      },
      'the run to be canceled',
      10_000,
    );
    assert.ok(ended.error_messages.some((m) => /canceled by admin/.test(m)));
    await waitFor(() => processesWith(`sleep ${marker}`).length === 0 || undefined, 'the process to end');
  });
});
