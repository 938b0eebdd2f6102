import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '../helpers/cli.js';
import { tempRepo } from '../helpers/repo.js';
import { registerRepo, startTestServer, type TestServer } from '../helpers/server.js';

interface Run {
  id: string;
  status: string;
  jobs: {
    id: string;
    status: string;
    reviewedComment: string | null;
    event: string | null;
    previousReleaseId: string | null;
  }[];
}

describe('deployment rules: approval timeouts, group approvals, one deployment per environment', () => {
  let t: TestServer;
  let base = '';
  const ids: Record<string, string> = {};
  const tokens: Record<string, string> = {};
  const api = <T>(method: string, path: string, body?: unknown, who?: string) =>
    t.api<T>(method, `${base}${path}`, body, who ? (tokens[who] ?? null) : undefined);
  const run = async (id: string) => (await api<Run>('GET', `/runs/${id}`)).body;
  const until = (id: string, check: (r: Run) => boolean, what: string) =>
    waitFor(async () => ((r) => (check(r) ? r : undefined))(await run(id)), what, 20_000);
  const release = async (name: string) =>
    (await api<{ id: string }>('POST', '/releases', { name, status: 'published' })).body.id;
  const env = async (key: string, extra: Record<string, unknown>) =>
    (await api<{ id: string }>('POST', '/environments', { name: key, key, ...extra })).body.id;

  before(async () => {
    t = await startTestServer();
    const repo = await registerRepo(
      t,
      tempRepo({
        '.conveyor/ci.yaml':
          'on:\n  push: []\nworkflows:\n  slow:\n    tasks: [{name: t, cubes: [{name: c, script: ["sleep 1.5"]}]}]\n',
      }),
    );
    base = `/api/projects/${repo.id}`;
    for (const who of ['bob', 'dave']) {
      ids[who] = (
        await t.api<{ id: string }>('POST', '/users', { slug: who, email: `${who}@example.com` })
      ).body.id;
      tokens[who] = (await t.api<{ token: string }>('POST', `/users/${who}/tokens`, {})).body.token;
    }
    await t.api('POST', '/repos/acme/app/roles', {
      subject_roles: ['bob', 'dave'].map((id) => ({ role: 'viewer', subject: { id } })),
    });
  });
  after(async () => t.close());

  it('rejects a review that waits past the approval timeout, saying why', async () => {
    const qa = await env('qa', {
      approvalMode: 'require_any',
      reviewers: [{ id: ids.bob }],
      approvalTimeout: '1h',
    });
    const started = await api<Run>('POST', '/releases/deploy', {
      releaseId: await release('t1'),
      environmentId: qa,
    });
    assert.equal(started.body.status, 'waiting');
    t.clock.offsetMs += 2 * 3_600_000;
    try {
      const ended = await until(started.body.id, (r) => r.status !== 'waiting', 'the timeout');
      assert.equal(ended.status, 'failure');
      assert.equal(ended.jobs[0]?.status, 'rejected');
      assert.equal(ended.jobs[0]?.event, 'approval_timed_out');
      assert.match(ended.jobs[0]?.reviewedComment ?? '', /no review within 3600 s/);
    } finally {
      t.clock.offsetMs -= 2 * 3_600_000;
    }
  });

  it('require_one_per_team waits for one approval from each group', async () => {
    const ops = await env('ops', {
      approvalMode: 'require_one_per_team',
      approvalGroups: [
        { id: 'qa', members: [{ id: ids.bob }] },
        { id: 'sre', members: [{ id: ids.dave }] },
      ],
    });
    const started = await api<Run>('POST', '/releases/deploy', {
      releaseId: await release('t2'),
      environmentId: ops,
    });
    const job = started.body.jobs[0]?.id ?? '';
    const first = await api<Run>(
      'POST',
      `/runs/${started.body.id}/jobs/${job}/review`,
      { conclusion: 'approved' },
      'bob',
    );
    assert.equal(first.status, 200);
    assert.equal(first.body.status, 'waiting', 'one group of two approved');
    assert.equal(first.body.jobs[0]?.event, 'approval_recorded');
    assert.equal(
      (await api('POST', `/runs/${started.body.id}/jobs/${job}/review`, { conclusion: 'approved' }, 'bob'))
        .status,
      409,
      'approving twice counts once',
    );
    const second = await api<Run>(
      'POST',
      `/runs/${started.body.id}/jobs/${job}/review`,
      { conclusion: 'approved' },
      'dave',
    );
    assert.equal(second.body.status, 'completed');
  });

  it('lets one deployment at a time use an environment; the next waits its turn', async () => {
    const slow = await env('slow', { workflow: 'slow' });
    const first = await release('a');
    const second = await release('b');
    const a = await api<Run>('POST', '/releases/deploy', { releaseId: first, environmentId: slow });
    await until(a.body.id, (r) => r.jobs[0]?.status === 'in_progress', 'a to deploy');
    const b = await api<Run>('POST', '/releases/deploy', { releaseId: second, environmentId: slow });
    assert.equal(b.body.jobs[0]?.status, 'not_started', 'b waits while a deploys');
    assert.equal((await run(a.body.id)).jobs[0]?.status, 'in_progress');
    await until(a.body.id, (r) => r.status === 'completed', 'a to complete');
    const done = await until(b.body.id, (r) => r.status === 'completed', 'b to complete after a');
    assert.equal(done.jobs[0]?.previousReleaseId, first, 'b replaced what a deployed');
  });
});
