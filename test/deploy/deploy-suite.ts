import assert from 'node:assert/strict';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '../helpers/cli.js';
import { tempDir, tempRepo } from '../helpers/repo.js';
import { registerRepo, startTestServer, type TestServer } from '../helpers/server.js';

interface Job {
  id: string;
  status: string;
  order: number;
  environment: { key: string };
  previousRelease: { id: string; version: string } | null;
  previousReleaseId: string | null;
  reviewedConclusion: string | null;
  reviewedComment: string | null;
  reviewedBy: { id: string } | null;
  event: string | null;
  data: Record<string, unknown>;
}
interface Run {
  id: string;
  status: string;
  runVersion: string;
  jobs: Job[];
  cancelledBy: { id: string } | null;
  cancelledComment: string | null;
  completedAt: string | null;
  release: { id: string; version: string };
}

const CONFIG = (failMarker: string) => `on:
  push: []
workflows:
  build:
    tasks:
      - name: b
        cubes:
          - name: pack
            script: ["mkdir -p dist && echo app > dist/app.bin"]
            artifacts: {paths: [dist/]}
  deploy:
    tasks:
      - name: d
        cubes:
          - name: go
            script:
              - echo "deploying $RELEASE_VERSION to $ENVIRONMENT_KEY after '$PREVIOUS_RELEASE_VERSION' with \${{ secrets.DEPLOY_KEY }}"
              - test -f "$RELEASE_ARTIFACTS/dist/app.bin"
              - test "$ENVIRONMENT_KEY" != prod || test ! -f ${failMarker}
`;

/** The promotion dev -> staging -> prod end to end, on one database. */
export function deploySuite(name: string, databaseUrl: () => Promise<string | undefined>): void {
  describe(`deployment workflows end to end: ${name}`, () => {
    let t: TestServer;
    let project = '';
    const tokens: Record<string, string> = {};
    const ids: Record<string, string> = {};
    const envs: Record<string, string> = {};
    let failMarker = '';
    const as = (who: string) => tokens[who] ?? null;
    const api = <T>(method: string, path: string, body?: unknown, who = 'alice') =>
      t.api<T>(method, `/api/projects/${project}${path}`, body, as(who));
    const settle = async (runId: string, statuses: string[]) =>
      waitFor(
        async () => {
          const run = (await api<Run>('GET', `/runs/${runId}`)).body;
          return statuses.includes(run.status) && !run.jobs.some((j) => j.status === 'in_progress')
            ? run
            : undefined;
        },
        `run ${runId} to be ${statuses.join('/')}`,
        30_000,
      );
    const release = async (name: string): Promise<{ id: string; semanticVersion: string }> => {
      const ci = await t.api<{ slug: string }>('POST', '/repos/acme/app/cicd/runs', {
        workflows: [{ name: 'build' }],
      });
      await waitFor(
        async () =>
          (await t.api<{ status: string }>('GET', `/repos/acme/app/cicd/runs/${ci.body.slug}`)).body
            .status === 'success' || undefined,
        'the build',
      );
      const made = await api<{ id: string; status: string; artifacts: { path: string; sha256: string }[] }>(
        'POST',
        '/releases',
        { name, sourceRun: ci.body.slug },
      );
      assert.equal(made.status, 201, JSON.stringify(made.body));
      assert.equal(made.body.status, 'draft');
      assert.deepEqual(
        made.body.artifacts.map((a) => a.path),
        ['dist/app.bin'],
      );
      assert.match(made.body.artifacts[0]?.sha256 ?? '', /^[0-9a-f]{64}$/);
      const published = await api<{ id: string; semanticVersion: string }>(
        'POST',
        `/releases/${made.body.id}/publish`,
        { versionType: 'minor' },
      );
      assert.equal(published.status, 200);
      return published.body;
    };

    before(async () => {
      const url = await databaseUrl();
      t = await startTestServer(url ? { databaseUrl: url } : {});
      failMarker = join(tempDir(), 'prod-breaks');
      const repo = await registerRepo(t, tempRepo({ '.conveyor/ci.yaml': CONFIG(failMarker) }));
      project = repo.id;
      for (const who of ['alice', 'bob', 'carol', 'dave']) {
        const made = await t.api<{ id: string }>('POST', '/users', {
          slug: who,
          email: `${who}@example.com`,
          first_name: who,
        });
        ids[who] = made.body.id;
        tokens[who] = (await t.api<{ token: string }>('POST', `/users/${who}/tokens`, {})).body.token;
      }
      await t.api('POST', '/repos/acme/app/roles', {
        subject_roles: [
          { role: 'maintainer', subject: { id: 'alice' } },
          { role: 'developer', subject: { id: 'bob' } },
          { role: 'viewer', subject: { id: 'carol' } },
          { role: 'developer', subject: { id: 'dave' } },
        ],
      });
      assert.equal(
        (await t.api('PUT', '/repos/acme/app/cicd/secrets/DEPLOY_KEY', { value: 'repo-level' })).status,
        204,
      );
      const create = async (key: string, order: number, extra: Record<string, unknown>) => {
        const made = await api<{ id: string; key: string }>('POST', '/environments', {
          name: key.toUpperCase(),
          key,
          addToWorkflow: true,
          workflowOrder: order,
          ...extra,
        });
        assert.equal(made.status, 201, JSON.stringify(made.body));
        envs[key] = made.body.id;
      };
      await create('dev', 1, { workflow: 'deploy' });
      await create('staging', 2, {
        approvalMode: 'require_any',
        reviewers: [{ id: ids.alice }, { id: ids.bob }, { id: ids.dave }],
      });
      await create('prod', 3, { workflow: 'deploy' });
      assert.equal(
        (await api('PUT', `/environments/${envs.prod}/secrets/DEPLOY_KEY`, { value: 'prod-only-key' }))
          .status,
        204,
      );
      const secrets = await api<{ secrets: { name: string }[] }>('GET', `/environments/${envs.prod}/secrets`);
      assert.deepEqual(
        secrets.body.secrets.map((s) => s.name),
        ['DEPLOY_KEY'],
      );
      assert.doesNotMatch(
        JSON.stringify(secrets.body),
        /prod-only-key/,
        'environment secrets are write-only',
      );
      assert.equal((await api('PUT', `/environments/${envs.prod}/secrets/TEMP`, { value: 'x' })).status, 204);
      assert.equal((await api('DELETE', `/environments/${envs.prod}/secrets/TEMP`)).status, 204);
      assert.equal(
        (await api('PUT', `/environments/${envs.prod}/secrets/X`, { value: 'x' }, 'bob')).status,
        403,
        'developers may not set them',
      );
      assert.equal(
        (await api('POST', '/environments', { name: 'Dup', key: 'dev' })).status,
        409,
        'keys are unique per project',
      );
    });
    after(async () => t.close());

    it('promotes a release: dev deploys at once, staging waits, a rejection fails the run', async () => {
      const r1 = await release('first');
      const draft = await api<{ id: string }>('POST', '/releases', { name: 'draft' });
      const refused = await api<{ message: string }>('POST', '/runs', { releaseId: draft.body.id });
      assert.equal(refused.status, 409);
      assert.match(refused.body.message, /draft/);

      const started = await api<Run>('POST', '/runs', { releaseId: r1.id });
      assert.equal(started.status, 200, JSON.stringify(started.body));
      assert.equal(started.body.runVersion, 'v2');
      assert.deepEqual(
        started.body.jobs.map((j) => j.environment.key),
        ['dev', 'staging', 'prod'],
      );
      const waiting = await settle(started.body.id, ['waiting']);
      assert.deepEqual(
        waiting.jobs.map((j) => j.status),
        ['completed', 'waiting', 'not_started'],
      );
      assert.equal(waiting.jobs[0]?.previousReleaseId, null, 'nothing was live on dev before');
      const ci = waiting.jobs[0]?.data.ciRun as { slug: string };
      const logs = await t.api<{ logs: string }>('GET', `/repos/acme/app/cicd/logs/${ci.slug}/deploy/d/go`);
      assert.match(
        logs.body.logs,
        new RegExp(`deploying ${r1.semanticVersion} to dev after '' with \\*\\*\\*`),
      );

      const staging = waiting.jobs[1] as Job;
      assert.equal(
        (
          await api(
            'POST',
            `/runs/${waiting.id}/jobs/${staging.id}/review`,
            { conclusion: 'approved' },
            'carol',
          )
        ).status,
        403,
        'not a reviewer',
      );
      assert.equal(
        (
          await api(
            'POST',
            `/runs/${waiting.id}/jobs/${staging.id}/review`,
            { conclusion: 'approved' },
            'alice',
          )
        ).status,
        403,
        'the starter may not approve',
      );
      const rejected = await api<Run>(
        'POST',
        `/runs/${waiting.id}/jobs/${staging.id}/review`,
        { conclusion: 'rejected', comment: 'not today' },
        'bob',
      );
      assert.equal(rejected.status, 200, JSON.stringify(rejected.body));
      assert.equal(rejected.body.status, 'failure');
      assert.deepEqual(
        rejected.body.jobs.map((j) => j.status),
        ['completed', 'rejected', 'not_started'],
      );
      assert.equal(rejected.body.jobs[1]?.reviewedComment, 'not today');
      assert.equal(rejected.body.jobs[1]?.reviewedBy?.id, ids.bob);
      assert.equal(
        (
          await api(
            'POST',
            `/runs/${waiting.id}/jobs/${staging.id}/review`,
            { conclusion: 'approved' },
            'bob',
          )
        ).status,
        409,
      );
      const envList = (await api<{ key: string; releaseId: string | null }[]>('GET', '/environments')).body;
      assert.deepEqual(
        envList.map((e) => [e.key, e.releaseId]),
        [
          ['dev', r1.id],
          ['staging', null],
          ['prod', null],
        ],
      );
    });

    it('an approval continues; prod fails once, the next run succeeds; previousRelease follows', async () => {
      const r1 = (
        await api<{ results: { id: string; semanticVersion: string }[] }>('GET', '/releases')
      ).body.results.find((r) => r.semanticVersion === '0.1.0');
      assert.ok(r1);
      writeFileSync(failMarker, '');
      const run = await api<Run>('POST', '/runs', { releaseId: r1.id });
      const waiting = await settle(run.body.id, ['waiting']);
      assert.equal(waiting.jobs[0]?.previousReleaseId, r1.id, 'dev already had this release');
      const approved = await api<Run>(
        'POST',
        `/runs/${waiting.id}/jobs/${waiting.jobs[1]?.id}/review`,
        { conclusion: 'approved', comment: 'ship it' },
        'bob',
      );
      assert.equal(approved.status, 200);
      const failed = await settle(waiting.id, ['failure']);
      assert.deepEqual(
        failed.jobs.map((j) => j.status),
        ['completed', 'completed', 'failure'],
      );
      assert.equal(failed.jobs[2]?.event, 'deployment_failed');
      rmSync(failMarker);
      const again = await api<Run>('POST', '/runs', { releaseId: r1.id });
      const waiting2 = await settle(again.body.id, ['waiting']);
      await api(
        'POST',
        `/runs/${waiting2.id}/jobs/${waiting2.jobs[1]?.id}/review`,
        { conclusion: 'approved' },
        'dave',
      );
      const done = await settle(waiting2.id, ['completed']);
      assert.deepEqual(
        done.jobs.map((j) => j.status),
        ['completed', 'completed', 'completed'],
      );
      assert.equal(done.jobs[1]?.previousRelease?.id, r1.id, 'staging had r1 from the run before');
      assert.equal(done.jobs[2]?.previousReleaseId, null);
      assert.ok(done.completedAt);
      const prodLog = await t.api<{ logs: string }>(
        'GET',
        `/repos/acme/app/cicd/logs/${(done.jobs[2]?.data.ciRun as { slug: string }).slug}/deploy/d/go`,
      );
      assert.match(prodLog.body.logs, /with \*\*\*/);
      assert.doesNotMatch(prodLog.body.logs, /prod-only-key/);
    });

    it('cancels a waiting run, recording who and why; refuses to cancel it twice', async () => {
      const r2 = await release('second');
      const run = await api<Run>('POST', '/runs', { releaseId: r2.id });
      const waiting = await settle(run.body.id, ['waiting']);
      const cancelled = await api<Run>(
        'POST',
        `/runs/${waiting.id}/cancel`,
        { comment: 'wrong build' },
        'bob',
      );
      assert.equal(cancelled.status, 200);
      assert.equal(cancelled.body.status, 'cancelled');
      assert.equal(cancelled.body.cancelledBy?.id, ids.bob);
      assert.equal(cancelled.body.cancelledComment, 'wrong build');
      assert.ok(cancelled.body.completedAt);
      assert.deepEqual(
        cancelled.body.jobs.map((j) => j.status),
        ['completed', 'cancelled', 'cancelled'],
      );
      assert.equal((await api('POST', `/runs/${waiting.id}/cancel`, { comment: 'again' })).status, 409);
    });

    it('labels a rollback, and one review of two at the same moment wins', async () => {
      const list = (await api<{ results: { id: string; semanticVersion: string }[] }>('GET', '/releases'))
        .body.results;
      const older = list.find((r) => r.semanticVersion === '0.1.0');
      assert.ok(older);
      const back = await api<Run>('POST', '/releases/deploy', {
        releaseId: older.id,
        environmentId: envs.dev,
        comment: 'roll back dev',
      });
      assert.equal(back.body.runVersion, 'release');
      const done = await settle(back.body.id, ['completed']);
      assert.equal(done.jobs[0]?.data.rollback, true);
      assert.equal(done.jobs[0]?.data.rollbackFrom, '0.2.0');

      const run = await api<Run>('POST', '/releases/deploy', {
        releaseId: older.id,
        environmentId: envs.staging,
      });
      const waiting = await settle(run.body.id, ['waiting']);
      const job = waiting.jobs[0] as Job;
      const answers = await Promise.all(
        ['bob', 'dave'].map((who) =>
          api(
            'POST',
            `/runs/${waiting.id}/jobs/${job.id}/review`,
            { conclusion: who === 'bob' ? 'approved' : 'rejected' },
            who,
          ),
        ),
      );
      assert.deepEqual(
        answers.map((a) => a.status).sort(),
        [200, 409],
        'one decision wins, the other is told',
      );
      const final = await settle(waiting.id, ['completed', 'failure']);
      assert.equal(
        final.status,
        answers[0]?.status === 200 ? 'completed' : 'failure',
        'the run follows the decision that won',
      );
    });

    it('lists runs with GoRules pagination and filters, and keeps an audit log', async () => {
      const page = await api<{
        results: Run[];
        paginate: { current: number; from: number; to: number; total: number; pageSize: number };
      }>('GET', '/runs?page=1&pageSize=2');
      assert.equal(page.body.results.length, 2);
      assert.equal(page.body.paginate.current, 1);
      assert.equal(page.body.paginate.pageSize, 2);
      assert.ok(page.body.paginate.total >= 6);
      const failures = await api<{ results: Run[] }>('GET', '/runs?status=failure');
      assert.ok(
        failures.body.results.length >= 2 && failures.body.results.every((r) => r.status === 'failure'),
      );
      assert.equal((await api('GET', '/runs?status=bogus')).status, 400);
      const audit = await api<{ results: { action: string }[] }>('GET', '/audit-log?pageSize=200');
      const actions = new Set(audit.body.results.map((e) => e.action));
      for (const action of [
        'environment_created',
        'release_created',
        'release_published',
        'deploy_started',
        'deployed',
        'review_rejected',
        'review_approved',
        'cancelled',
      ])
        assert.ok(actions.has(action), `audit log has ${action}`);
      assert.equal((await api('GET', '/audit-log', undefined, 'carol')).status, 403);
      assert.equal(
        (await t.api('GET', `/api/projects/${project}/runs`, undefined, null)).status,
        404,
        'a private project is invisible to anonymous callers',
      );
      assert.equal(existsSync(failMarker), false);
    });
  });
}
