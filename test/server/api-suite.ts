import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '../helpers/cli.js';
import { processesWith } from '../helpers/processes.js';
import { tempDir, tempRepo, writeFiles } from '../helpers/repo.js';
import { registerRepo, startTestServer, type TestServer } from '../helpers/server.js';

interface RunJson {
  slug: string;
  status: string;
  event_type: string;
  error_messages: string[];
  trigger?: string;
  workflows: {
    slug: string;
    status: string;
    tasks: {
      slug: string;
      status: string;
      outputs: Record<string, string>;
      cubes: {
        slug: string;
        status: string;
        error_message?: string;
        artifacts: { local_path: string; status: string; download_url?: string }[];
      }[];
    }[];
  }[];
}

const ERROR_KEYS = ['details', 'error_code', 'message', 'request_id'];

function config(marker: string, sleepMarker: string): string {
  return `on:
  push:
    - workflows: [build]
      filter: {branches: [main], paths: ["src/**"]}
    - workflows: [docs]
      filter: {branches: ["**"], paths: ["docs/**"]}
  pull_request:
    - workflows: [docs]
      filter: {source_branches: ["**", "!wip/**"], target_branches: main}
workflows:
  build:
    inputs:
      WHO: {default: world}
    tasks:
      - name: compile
        outputs: {V: "\${{ cubes.make.outputs.V }}"}
        cubes:
          - name: make
            script:
              - echo "V=1.\${{ inputs.WHO }}" >> "$SOURCECRAFT_OUTPUT"
              - echo "token is \${{ secrets.TOKEN }}"
              - mkdir -p out && echo built > out/app.txt
            artifacts: {paths: [out/]}
      - name: check
        needs: [compile]
        cubes:
          - name: gate
            script:
              - echo "got \${{ tasks.compile.outputs.V }} on $SOURCECRAFT_EVENT"
              - test -f ${marker}
  docs:
    tasks: [{name: d, cubes: [{name: d, script: [echo docs]}]}]
  slow:
    tasks: [{name: s, cubes: [{name: s, script: ["sleep ${sleepMarker}"]}]}]
  deploy:
    inputs: {TARGET: {required: true}}
    tasks: [{name: d, cubes: [{name: d, script: ["echo to \${{ inputs.TARGET }}"]}]}]
`;
}

function commit(repo: string, files: Record<string, string>, message: string): string {
  writeFiles(repo, files);
  execFileSync('git', ['add', '-A'], { cwd: repo });
  execFileSync('git', ['-c', 'user.name=T', '-c', 'user.email=t@e.com', 'commit', '-qm', message], {
    cwd: repo,
  });
  return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: repo, encoding: 'utf8' }).trim();
}

/** The end-to-end behaviour of the CI API, against a real server on a given database. */
export function apiSuite(name: string, databaseUrl: () => Promise<string | undefined>): void {
  describe(`CI API end to end: ${name}`, () => {
    let t: TestServer;
    let repoDir: string;
    let marker: string;
    let webhookSecret: string;
    const sleepMarker = `${Math.floor(Math.random() * 1e6)}.4321`;
    const base = '/repos/acme/app';
    const finished = (slug: string) =>
      waitFor(
        async () => {
          const run = await t.api<RunJson>('GET', `${base}/cicd/runs/${slug}`);
          return ['success', 'failed', 'canceled', 'timeout'].includes(run.body.status)
            ? run.body
            : undefined;
        },
        `run ${slug} to end`,
        30_000,
      );

    before(async () => {
      const url = await databaseUrl();
      t = await startTestServer(url ? { databaseUrl: url } : {});
      marker = join(tempDir(), 'pass');
      repoDir = tempRepo({
        '.conveyor/ci.yaml': config(marker, sleepMarker),
        'src/a.txt': '1',
        'docs/x.md': 'x',
      });
      webhookSecret = (await registerRepo(t, repoDir)).webhook_secret;
      assert.equal(
        (await t.api('PUT', `${base}/cicd/secrets/TOKEN`, { value: 'hunter2-secret' })).status,
        204,
      );
    });
    after(async () => t.close());

    it('runs a workflow by hand with inputs; masks secrets; passes outputs; links artifacts', async () => {
      writeFileSync(marker, '');
      const started = await t.api<RunJson>('POST', `${base}/cicd/runs`, {
        workflows: [{ name: 'build', values: [{ name: 'WHO', value: 'bob' }] }],
      });
      assert.equal(started.status, 200, JSON.stringify(started.body));
      assert.equal(started.body.event_type, 'manual');
      const run = await finished(started.body.slug);
      assert.equal(run.status, 'success', JSON.stringify(run));
      assert.equal(run.workflows[0]?.tasks[0]?.outputs.V, '1.bob');
      const logs = await t.api<{ logs: string; done: boolean; page_complete: boolean }>(
        'GET',
        `${base}/cicd/logs/${run.slug}/build/compile/make`,
      );
      assert.match(logs.body.logs, /token is \*\*\*/);
      assert.doesNotMatch(logs.body.logs, /hunter2/);
      assert.deepEqual([logs.body.done, logs.body.page_complete], [true, true]);
      const gate = await t.api<{ logs: string }>(
        'GET',
        `/acme/app/cicd/logs/${run.slug}/build/check/gate?page=1`,
      );
      assert.match(gate.body.logs, /got 1\.bob on manual/, 'the legacy unprefixed path answers too');
      const notStarted = await t.api('GET', `${base}/cicd/logs/${run.slug}/build/compile/make?page=2`);
      assert.equal(notStarted.status, 404);
      assert.deepEqual(Object.keys(notStarted.body).sort(), ERROR_KEYS);

      const artifacts = await t.api<{
        artifacts: { local_path: string; status: string; download_url: string }[];
      }>('GET', `${base}/cicd/artifacts/${run.slug}/build/compile/make`);
      const [artifact] = artifacts.body.artifacts;
      assert.equal(artifact?.status, 'success');
      const download = await fetch(artifact.download_url);
      assert.equal(download.status, 200, 'a signed link needs no token');
      const listing = execFileSync('tar', ['-tzf', '-'], {
        input: Buffer.from(await download.arrayBuffer()),
        encoding: 'utf8',
      });
      assert.match(listing, /app\.txt/);
      const signature = new URL(artifact.download_url).searchParams.get('signature') ?? '';
      const forged = `${signature.startsWith('A') ? 'B' : 'A'}${signature.slice(1)}`;
      const tampered = await fetch(
        artifact.download_url.replace(`signature=${signature}`, `signature=${forged}`),
      );
      assert.equal(tampered.status, 403);
      t.clock.offsetMs += 20 * 60 * 1000;
      try {
        assert.equal((await fetch(artifact.download_url)).status, 403, 'an expired link is refused');
      } finally {
        t.clock.offsetMs -= 20 * 60 * 1000;
      }
    });

    it('answers bad run requests with 400s that say which, and stores nothing', async () => {
      const before = await t.api<{ runs: RunJson[] }>('GET', `${base}/cicd/runs?page_size=1000`);
      const unknown = await t.api<{ message: string; error_code: string }>('POST', `${base}/cicd/runs`, {
        workflows: [{ name: 'nope' }],
      });
      assert.equal(unknown.status, 400);
      assert.match(unknown.body.message, /unknown workflow 'nope'/);
      const missing = await t.api<{ message: string }>('POST', `${base}/cicd/runs`, {
        workflows: [{ name: 'deploy' }],
      });
      assert.equal(missing.status, 400);
      assert.match(missing.body.message, /TARGET/);
      const twoRevs = await t.api<{ message: string }>('POST', `${base}/cicd/runs`, {
        head: { branch: 'main', tag: 'v1' },
        workflows: [{ name: 'docs' }],
      });
      assert.equal(twoRevs.status, 400);
      const badBranch = await t.api<{ message: string }>('POST', `${base}/cicd/runs`, {
        head: { branch: 'nope' },
        workflows: [{ name: 'docs' }],
      });
      assert.equal(badBranch.status, 400);
      assert.match(badBranch.body.message, /branch 'nope' does not exist/);
      const malformed = await t.api<{ error_code: string; request_id: string }>(
        'POST',
        `${base}/cicd/runs`,
        '{"workflows": [',
      );
      assert.equal(malformed.status, 400);
      assert.equal(malformed.body.error_code, 'ValidationError');
      assert.equal(malformed.headers.get('x-request-id'), malformed.body.request_id);
      const wrongType = await t.api<{ error_code: string; details: Record<string, string> }>(
        'POST',
        `${base}/cicd/runs`,
        { workflows: 'build' },
      );
      assert.equal(wrongType.status, 400);
      assert.ok(Object.keys(wrongType.body.details).length > 0, 'details say which field');
      const huge = await t.api('POST', `${base}/cicd/runs`, {
        workflows: [{ name: 'x'.repeat(2 * 1024 * 1024) }],
      });
      assert.equal(huge.status, 413);
      const after = await t.api<{ runs: RunJson[] }>('GET', `${base}/cicd/runs?page_size=1000`);
      assert.equal(after.body.runs.length, before.body.runs.length, 'no bad request stored a run');
    });

    it('pages ListRuns with tokens and refuses tokens it did not issue', async () => {
      for (let i = 0; i < 3; i++)
        assert.equal(
          (await t.api('POST', `${base}/cicd/runs`, { workflows: [{ name: 'docs' }] })).status,
          200,
        );
      const all = await t.api<{ runs: RunJson[] }>('GET', `${base}/cicd/runs?page_size=1000`);
      const seen: string[] = [];
      let token: string | undefined;
      do {
        const page = await t.api<{ runs: RunJson[]; next_page_token?: string }>(
          'GET',
          `${base}/cicd/runs?page_size=2${token ? `&page_token=${token}` : ''}`,
        );
        assert.equal(page.status, 200);
        assert.ok(page.body.runs.length <= 2);
        seen.push(...page.body.runs.map((r) => r.slug));
        token = page.body.next_page_token;
      } while (token);
      assert.deepEqual(
        seen,
        all.body.runs.map((r) => r.slug),
      );
      assert.deepEqual(
        seen,
        [...seen].sort((a, b) => Number(b) - Number(a)),
        'newest first',
      );
      const bad = await t.api('GET', `${base}/cicd/runs?page_token=garbage`);
      assert.equal(bad.status, 400);
      assert.equal((await t.api('GET', `${base}/cicd/runs?page_size=0`)).status, 400);
      const repo = await t.api<{ id: string }>('GET', base);
      const byId = await t.api<{ runs: RunJson[] }>(
        'GET',
        `/repos/id:${repo.body.id}/cicd/runs?page_size=1000`,
      );
      assert.equal(byId.body.runs.length, all.body.runs.length, 'the id: form lists the same runs');
    });

    it('starts one run per polled push, with only the workflows whose filters match', async () => {
      const repo = await t.api<{ id: string }>('GET', base);
      await t.server.composed.ctx.triggers.poll(
        (await t.server.composed.ctx.services.directory.findRepoById(repo.body.id))!,
      );
      const before = (await t.api<{ runs: RunJson[] }>('GET', `${base}/cicd/runs?page_size=1000`)).body.runs
        .length;
      const sha = commit(repoDir, { 'src/b.txt': '2' }, 'change src');
      await t.server.composed.ctx.triggers.poll(
        (await t.server.composed.ctx.services.directory.findRepoById(repo.body.id))!,
      );
      const runs = (
        await t.api<{ runs: (RunJson & { commit: { sha: string } })[] }>(
          'GET',
          `${base}/cicd/runs?page_size=1000`,
        )
      ).body.runs;
      assert.equal(runs.length, before + 1, 'one push, one run');
      const run = runs[0]!;
      assert.equal(run.event_type, 'push');
      assert.equal(run.commit.sha, sha);
      assert.deepEqual(
        run.workflows.map((w) => w.slug),
        ['build'],
        'docs/** did not change, so docs does not run',
      );
      commit(repoDir, { 'README.md': 'x' }, 'change nothing that matters');
      await t.server.composed.ctx.triggers.poll(
        (await t.server.composed.ctx.services.directory.findRepoById(repo.body.id))!,
      );
      assert.equal(
        (await t.api<{ runs: RunJson[] }>('GET', `${base}/cicd/runs?page_size=1000`)).body.runs.length,
        before + 1,
        'no filter matched, no run',
      );
      await finished(run.slug);
    });

    it('takes signed GitHub and GitLab webhooks and refuses forged ones, changing nothing', async () => {
      const previous = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: repoDir, encoding: 'utf8' }).trim();
      const sha = commit(repoDir, { 'docs/y.md': 'y' }, 'docs');
      const payload = JSON.stringify({ ref: 'refs/heads/main', before: previous, after: sha });
      const sign = (secret: string) => `sha256=${createHmac('sha256', secret).update(payload).digest('hex')}`;
      const post = (path: string, headers: Record<string, string>) =>
        fetch(`${t.url}${base}/cicd/webhooks/${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body: payload,
        });
      const count = async () =>
        (await t.api<{ runs: RunJson[] }>('GET', `${base}/cicd/runs?page_size=1000`)).body.runs.length;
      const before = await count();
      for (const forged of [
        post('github', { 'x-github-event': 'push', 'x-hub-signature-256': sign('wrong-secret') }),
        post('github', { 'x-github-event': 'push' }),
        post('gitlab', { 'x-gitlab-event': 'Push Hook', 'x-gitlab-token': 'wrong' }),
        fetch(`${t.url}/repos/acme/nope/cicd/webhooks/github`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'x-github-event': 'push',
            'x-hub-signature-256': sign(webhookSecret),
          },
          body: payload,
        }),
      ]) {
        const response = await forged;
        assert.equal(response.status, 401);
        assert.deepEqual(Object.keys((await response.json()) as object).sort(), ERROR_KEYS);
      }
      assert.equal(await count(), before, 'forged webhooks started nothing');
      const github = await post('github', {
        'x-github-event': 'push',
        'x-hub-signature-256': sign(webhookSecret),
      });
      assert.equal(github.status, 202);
      const slug = ((await github.json()) as { run_slug: string }).run_slug;
      const run = await finished(slug);
      assert.deepEqual(
        run.workflows.map((w) => w.slug),
        ['docs'],
      );
      const gitlab = await post('gitlab', { 'x-gitlab-event': 'Push Hook', 'x-gitlab-token': webhookSecret });
      assert.equal(gitlab.status, 202);
      assert.equal(await count(), before + 2);
    });

    it('runs pull requests from a signed GitHub webhook as pr_update runs', async () => {
      execFileSync('git', ['checkout', '-q', '-b', 'feature/x'], { cwd: repoDir });
      const head = commit(repoDir, { 'docs/pr.md': 'pr' }, 'pr change');
      execFileSync('git', ['checkout', '-q', 'main'], { cwd: repoDir });
      const deliver = async (source: string) => {
        const payload = JSON.stringify({
          action: 'opened',
          number: 12,
          pull_request: { number: 12, head: { ref: source, sha: head }, base: { ref: 'main' } },
        });
        const signature = `sha256=${createHmac('sha256', webhookSecret).update(payload).digest('hex')}`;
        const response = await fetch(`${t.url}${base}/cicd/webhooks/github`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'x-github-event': 'pull_request',
            'x-hub-signature-256': signature,
          },
          body: payload,
        });
        assert.equal(response.status, 202);
        return (await response.json()) as { run_slug: string | null };
      };
      const accepted = await deliver('feature/x');
      assert.ok(accepted.run_slug);
      const run = await finished(accepted.run_slug);
      assert.equal(run.event_type, 'pr_update');
      assert.deepEqual((run as unknown as { pull: { slug: string } }).pull, { id: '12', slug: '12' });
      assert.deepEqual(
        run.workflows.map((w) => w.slug),
        ['docs'],
      );
      assert.equal((await deliver('wip/x')).run_slug, null, 'a filtered-out source branch runs nothing');
    });

    it('answers unknown organizations, repositories and runs with 404', async () => {
      for (const path of [
        '/repos/nope/app/cicd/runs',
        '/repos/acme/nope/cicd/runs',
        `${base}/cicd/runs/99999`,
        `${base}/cicd/runs/abc`,
        '/repos/id:not-a-uuid/cicd/runs',
      ]) {
        const answer = await t.api<{ error_code: string }>('GET', path);
        assert.equal(answer.status, 404, path);
        assert.equal(answer.body.error_code, 'NotFound');
      }
    });

    it('cancels a running run and ends its processes; restarts only what failed, reusing outputs', async () => {
      const started = await t.api<RunJson>('POST', `${base}/cicd/runs`, { workflows: [{ name: 'slow' }] });
      await waitFor(
        () => processesWith(`sleep ${sleepMarker}`).length > 0 || undefined,
        'the slow cube to start',
      );
      const canceled = await t.api<RunJson>('POST', `${base}/cicd/runs/${started.body.slug}/cancel`, {});
      assert.equal(canceled.status, 200);
      assert.equal(canceled.body.status, 'canceled');
      assert.ok(canceled.body.error_messages.some((m) => /canceled by admin/.test(m)));
      await waitFor(
        () => processesWith(`sleep ${sleepMarker}`).length === 0 || undefined,
        'the cube process to end',
      );
      assert.equal((await t.api('POST', `${base}/cicd/runs/${started.body.slug}/cancel`, {})).status, 409);

      if (existsSync(marker)) execFileSync('rm', [marker]);
      const failing = await t.api<RunJson>('POST', `${base}/cicd/runs`, {
        workflows: [{ name: 'build', values: [{ name: 'WHO', value: 'amy' }] }],
      });
      const failed = await finished(failing.body.slug);
      assert.equal(failed.status, 'failed');
      writeFileSync(marker, '');
      const restarted = await t.api<RunJson>('POST', `${base}/cicd/runs/${failed.slug}/restart`, {
        scope: 'failed',
      });
      assert.equal(restarted.status, 200, JSON.stringify(restarted.body));
      assert.equal(restarted.body.event_type, 'restart');
      const rerun = await finished(restarted.body.slug);
      assert.equal(rerun.status, 'success');
      const compile = rerun.workflows[0]?.tasks.find((x) => x.slug === 'compile');
      assert.match(compile?.cubes[0]?.error_message ?? '', /carried over from run/);
      const gate = await t.api<{ logs: string }>('GET', `${base}/cicd/logs/${rerun.slug}/build/check/gate`);
      assert.match(gate.body.logs, /got 1\.amy on restart/, 'the rerun task read the carried-over output');
    });

    it('streams a run as server-sent events until it ends', async () => {
      const started = await t.api<RunJson>('POST', `${base}/cicd/runs`, { workflows: [{ name: 'docs' }] });
      const response = await fetch(`${t.url}${base}/cicd/runs/${started.body.slug}/events`, {
        headers: { authorization: `Bearer ${'test-admin-token-0123456789'}` },
      });
      assert.equal(response.headers.get('content-type'), 'text/event-stream; charset=utf-8');
      const text = await response.text();
      const states = [...text.matchAll(/^data: (.*)$/gm)].map(
        (m) => (JSON.parse(m[1] ?? '{}') as RunJson).status,
      );
      assert.equal(states.at(-1), 'success');
    });
  });
}
