import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '../helpers/cli.js';
import { tempPostgresUrl } from '../helpers/postgres.js';
import { tempRepo } from '../helpers/repo.js';
import { ADMIN_TOKEN, registerRepo, startTestServer, type TestServer } from '../helpers/server.js';

interface RunJson {
  slug: string;
  status: string;
}

/**
 * Run state reaches streams and live views on a replica that does not execute the run through the
 * notifier (PostgreSQL LISTEN/NOTIFY), not through polling: both replicas' backstops are set to a
 * minute, so without the wake-ups nothing would move on B within the test's deadlines.
 */
describe('run events reach the other replica', () => {
  let a: TestServer;
  let b: TestServer;
  const base = '/repos/acme/app/cicd/runs';
  const slow = { CONVEYOR_STREAM_BACKSTOP_MS: '60000', CONVEYOR_LIVE_VIEW_CHECK_MS: '60000' };

  before(async () => {
    const url = await tempPostgresUrl();
    a = await startTestServer({ databaseUrl: url, env: slow });
    // B executes nothing: every run is A's.
    b = await startTestServer({ databaseUrl: url, env: slow, concurrency: 0 });
    await registerRepo(
      a,
      tempRepo({
        '.conveyor/ci.yaml': `workflows:\n  steps:\n    tasks:\n      - name: t\n        cubes:\n          - {name: one, script: ["sleep 0.5"]}\n          - {name: two, needs: [one], script: ["sleep 0.5"]}\n`,
      }),
    );
  });
  after(async () => {
    await b?.close();
    await a?.close();
  });

  it("streams A's run on B as it changes, until it ends, and B's GetRun agrees at once", async () => {
    const started = await b.api<RunJson>('POST', base, { workflows: [{ name: 'steps' }] });
    assert.equal(started.status, 200, JSON.stringify(started.body));
    const slug = started.body.slug;
    // B's live view of the run exists from here on; only a wake-up moves it.
    assert.equal((await b.api('GET', `${base}/${slug}`)).status, 200);
    const response = await fetch(`${b.url}${base}/${slug}/events`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      signal: AbortSignal.timeout(20_000),
    });
    assert.equal(response.status, 200);
    const text = await response.text();
    const states = [...text.matchAll(/^data: (.*)$/gm)].map((m) => JSON.parse(m[1] ?? '{}') as RunJson);
    assert.equal(states.at(-1)?.status, 'success', text.slice(-2000));
    assert.ok(
      states.length >= 3,
      `the stream showed the run moving: ${states.map((s) => s.status).join(', ')}`,
    );
    const onA = await a.api<RunJson>('GET', `${base}/${slug}`);
    assert.equal(onA.body.status, 'success');
    // The run ended on A; B's view heard of it (its own check is a minute away).
    const onB = await waitFor(
      async () => {
        const got = await b.api<RunJson>('GET', `${base}/${slug}`);
        return got.body.status === 'success' ? got.body : undefined;
      },
      "B's GetRun to show the end",
      3000,
    );
    assert.equal(onB.status, 'success');
  });
});
