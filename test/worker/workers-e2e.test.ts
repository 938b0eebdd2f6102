import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '../helpers/cli.js';
import { tempRepo } from '../helpers/repo.js';
import { registerRepo, startTestServer, type TestServer } from '../helpers/server.js';
import { startWorker, workerToken, type TestWorker } from '../helpers/workers.js';

interface CubeJson {
  name: string;
  status: string;
  error_message?: string;
  artifacts?: { local_path: string; status: string }[];
}
interface RunJson {
  slug: string;
  status: string;
  error_messages?: string[];
  workflows: {
    name: string;
    tasks: { slug: string; status: string; outputs: Record<string, string>; cubes: CubeJson[] }[];
  }[];
}

const CONFIG = `
workflows:
  build:
    tasks:
      - name: remote
        runs_on: [self-hosted, linux]
        outputs:
          V: \${{ cubes.make.outputs.V }}
        cubes:
          - name: make
            script:
              - echo "worker=$CONVEYOR_WORKER"
              - echo "secret=\${{ secrets.TOKEN }}"
              - cat src/a.txt
              - test -z "$CONVEYOR_WORKER_TOKEN"
              - echo "V=from-$CONVEYOR_WORKER" >> $SOURCECRAFT_OUTPUT
              - mkdir -p out && echo artifact-body > out/file.txt
            artifacts:
              paths: [out/file.txt]
          - name: second
            needs: [make]
            script:
              - echo second on $CONVEYOR_WORKER
      - name: local
        needs: [remote]
        cubes:
          - name: use
            script:
              - echo "got \${{ tasks.remote.outputs.V }} on \${CONVEYOR_WORKER:-no worker}"
`;

describe('workers: tasks with runs_on tags run on `conveyor worker` processes', () => {
  let t: TestServer;
  let token: string;
  const workers: TestWorker[] = [];
  const base = '/repos/acme/app';
  const finished = (slug: string, ms = 30_000) =>
    waitFor(
      async () => {
        const run = await t.api<RunJson>('GET', `${base}/cicd/runs/${slug}`);
        return ['success', 'failed', 'canceled', 'timeout'].includes(run.body.status) ? run.body : undefined;
      },
      `run ${slug} to end`,
      ms,
    );
  const log = async (slug: string, path: string) =>
    (await t.api<{ logs: string }>('GET', `${base}/cicd/logs/${slug}/${path}`)).body.logs;

  before(async () => {
    t = await startTestServer();
    await registerRepo(t, tempRepo({ '.conveyor/ci.yaml': CONFIG, 'src/a.txt': 'file-from-repo' }));
    assert.equal((await t.api('PUT', `${base}/cicd/secrets/TOKEN`, { value: 'hunter2-secret' })).status, 204);
    token = await workerToken(t);
    workers.push(await startWorker(t.url, token, { name: 'w-linux', tags: ['linux'] }));
  });
  after(async () => {
    await Promise.all(workers.map((w) => w.stop()));
    await t.close();
  });

  it('runs the task on a worker with its tags: checkout over git, secrets masked, outputs, artifacts', async () => {
    const started = await t.api<RunJson>('POST', `${base}/cicd/runs`, { workflows: [{ name: 'build' }] });
    assert.equal(started.status, 200, JSON.stringify(started.body));
    const run = await finished(started.body.slug);
    const w = workers[0]?.output() ?? '';
    assert.equal(run.status, 'success', `${JSON.stringify(run)}\n${w}`);
    const make = await log(run.slug, 'build/remote/make');
    assert.match(make, /worker=w-linux/);
    assert.match(make, /secret=\*\*\*/);
    assert.doesNotMatch(make, /hunter2/);
    assert.match(make, /file-from-repo/);
    assert.match(await log(run.slug, 'build/remote/second'), /second on w-linux/);
    // The untagged task runs on the server's embedded worker, never on the tagged w-linux.
    assert.match(await log(run.slug, 'build/local/use'), /got from-w-linux on embedded-1-[0-9a-f]{6}\n/);
    const remote = run.workflows[0]?.tasks.find((x) => x.slug === 'remote');
    assert.equal(remote?.outputs.V, 'from-w-linux');
    assert.equal(remote?.cubes[0]?.artifacts?.[0]?.status, 'success');
    const listed = await t.api<{
      workers: { name: string; tags: string[]; state: string; containment: string }[];
    }>('GET', '/workers');
    const me = listed.body.workers.find((x) => x.name === 'w-linux');
    assert.deepEqual(me?.tags, ['linux', 'self-hosted']);
    assert.equal(me?.state, 'online');
    assert.match(w, /processes are contained by/);
  });
});
