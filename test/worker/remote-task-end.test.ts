import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '../helpers/cli.js';
import { tempRepo } from '../helpers/repo.js';
import { registerRepo, startTestServer, type TestServer } from '../helpers/server.js';
import { workerToken } from '../helpers/workers.js';

interface Assignment {
  task_id: string;
  epoch: number;
  token: string;
  run: { workflows: { tasks: { cubes: { id: string }[] }[] }[] };
}

/**
 * The test speaks the worker protocol itself, so it decides when the final report comes: a task
 * whose cubes a worker reported ended must still wait for that report (which comes once every log
 * byte is on the server), or a reader of the finished run could find its logs short.
 */
describe('a task on a worker ends with its final report', () => {
  let t: TestServer;
  let token = '';
  before(async () => {
    t = await startTestServer();
    await registerRepo(
      t,
      tempRepo({
        '.conveyor/ci.yaml':
          "workflows:\n  w:\n    checkout: {enabled: false}\n    tasks:\n      - name: t\n        runs_on: [self-hosted, solo]\n        cubes: [{name: c, script: ['true']}]\n",
      }),
    );
    token = await workerToken(t);
  });
  after(async () => t.close());

  const call = async <T>(path: string, body: unknown, bearer = token) => {
    const response = await fetch(`${t.url}/worker/v1${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    assert.equal(response.status, 200, `${path}: ${await response.clone().text()}`);
    return (await response.json()) as T;
  };

  it('keeps the run going after a report that the cubes ended, and ends it with the final report', async () => {
    await call('/register', {
      name: 'hand',
      tags: ['solo'],
      slots: 1,
      version: 't',
      executor: 'native',
      containment: 'none',
    });
    const started = await t.api<{ slug: string }>('POST', '/repos/acme/app/cicd/runs', {
      workflows: [{ name: 'w' }],
    });
    const runPath = `/repos/acme/app/cicd/runs/${started.body.slug}`;
    const poll = await call<{ task: Assignment | null }>('/poll', {
      name: 'hand',
      free_slots: 1,
      tasks: [],
      wait_ms: 10_000,
    });
    const a = poll.task;
    assert.ok(a, 'the poll hands out the task');
    const cubeId = a.run.workflows[0]?.tasks[0]?.cubes[0]?.id ?? '';
    const now = Date.now();
    const cube = {
      id: cubeId,
      status: 'success',
      startedAt: now,
      finishedAt: now,
      exitCode: 0,
      outputs: {},
      artifacts: [],
    };
    await call(`/tasks/${a.task_id}/report`, { epoch: a.epoch, cubes: [cube] }, a.token);
    await waitFor(
      async () =>
        (await t.api<{ workflows: { tasks: { cubes: { status: string }[] }[] }[] }>('GET', runPath)).body
          .workflows[0]?.tasks[0]?.cubes[0]?.status === 'success' || undefined,
      'the reported cube status to show',
    );
    try {
      // Longer than the engine's write batching: a run ended by that report would show it by now.
      await new Promise((r) => setTimeout(r, 500));
      const during = await t.api<{ status: string; workflows: { tasks: { status: string }[] }[] }>(
        'GET',
        runPath,
      );
      assert.notEqual(during.body.status, 'success', 'the run waits for the final report');
      assert.equal(during.body.workflows[0]?.tasks[0]?.status, 'processing');
    } finally {
      // Sent even when an assertion failed: a task left leased would hold up the server's stop.
      await call(
        `/tasks/${a.task_id}/report`,
        { epoch: a.epoch, cubes: [cube], final: true, logs: {} },
        a.token,
      );
    }
    await waitFor(
      async () => (await t.api<{ status: string }>('GET', runPath)).body.status === 'success' || undefined,
      'the run to end with the final report',
    );
  });
});
