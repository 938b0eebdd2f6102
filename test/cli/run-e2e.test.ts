import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { before, describe, it } from 'node:test';
import type { CubeJson, RunJson, TaskJson, WorkflowJson } from '../../src/transport/run-json.js';
import { FileLogStore } from '../../src/logs/file-log-store.js';
import { runCli, TEST_IMAGE } from '../helpers/cli.js';
import { defined } from '../helpers/defined.js';
import { tempRepo } from '../helpers/repo.js';

const CONFIG = `
env:
  GLOBAL_VAR: global
  SCOPE: global
workflows:
  build:
    inputs:
      TARGET: {type: string, required: true}
      MODE: {type: string, default: debug}
    env: {SCOPE: workflow, WF_VAR: wf}
    tasks:
      - name: prepare
        env: {SCOPE: task, TASK_VAR: t}
        outputs:
          VERSION: \${{ cubes.version.outputs.VERSION }}
          NOTES: \${{ cubes.version.outputs.NOTES }}
        cubes:
          - name: version
            script:
              - echo "VERSION=1.4.2" >> "$SOURCECRAFT_OUTPUT"
              - printf 'NOTES<<EOF\\nline one\\nline two\\nEOF\\n' >> "$SOURCECRAFT_OUTPUT"
              - echo "FROM_ENV_FILE=passed" >> "$SOURCECRAFT_ENV"
          - name: show
            env: {SCOPE: cube, TOKEN: "\${{ secrets.API_TOKEN }}"}
            script:
              - echo "scopes=$GLOBAL_VAR/$WF_VAR/$TASK_VAR/$SCOPE env=$FROM_ENV_FILE"
              - echo "target=\${{ inputs.TARGET }} mode=\${{ inputs.MODE }}"
              - echo "version=\${{ cubes.version.outputs.VERSION }}"
              - echo "token=\${{ secrets.API_TOKEN }} env-token=$TOKEN"
              - echo "ci=$CI sc=$SOURCECRAFT_CI cube=$SOURCECRAFT_CUBE event=$SOURCECRAFT_EVENT ref=$CONVEYOR_COMMIT_REF_NAME"
              - echo "uncommitted=$(cat local-change.txt)"
          - name: package
            script:
              - mkdir -p dist/sub && echo "app \${{ cubes.version.outputs.VERSION }}" > dist/app.txt && echo nested > dist/sub/n.txt
              - echo report > report.xml
            artifacts:
              paths: [dist/, "*.xml", missing/file.txt]
      - name: lint
        cubes:
          - name: flaky
            allow_failure: true
            script: [echo flaky, exit 4]
          - name: after-flaky
            script: [echo ran after an allowed failure]
      - name: test
        needs: [prepare, lint]
        cubes:
          - name: use-task-output
            script:
              - echo "got \${{ tasks.prepare.outputs.VERSION }}"
              - test "\${{ tasks.prepare.outputs.VERSION }}" = 1.4.2
          - name: in-container
            image: ${TEST_IMAGE}
            script:
              - echo "container workspace $SOURCECRAFT_WORKSPACE pwd $(pwd)"
              - cat /sourcecraft/workspace/README.md
              - echo written-by-container > from-container.txt
          - name: after-container
            script: [cat from-container.txt]
  failing:
    tasks:
      - name: breaks
        cubes:
          - name: fail
            script: [echo about to fail, exit 7]
          - name: skipped
            script: [echo never]
      - name: dependent
        needs: [breaks]
        cubes: [{name: never, script: echo never}]
      - name: independent
        cubes:
          - {name: parallel-1, needs: ['-'], script: [sleep 0.5]}
          - {name: parallel-2, needs: ['-'], script: [sleep 0.5]}
  slow:
    settings: {max_cube_duration: 1s}
    tasks:
      - name: hangs
        cubes:
          - name: sleeper
            script: [echo sleeping, sleep 60]
          - name: after-timeout
            script: [echo never]
`;

describe('conveyor run --json on a multi-workflow pipeline', () => {
  let repo: string;
  let run: RunJson;
  let code: number | null;
  let stdout: string;
  const workflow = (wf: string): WorkflowJson => {
    const found = run.workflows.find((w) => w.slug === wf);
    assert.ok(found, `workflow ${wf}`);
    return found;
  };
  const task = (wf: string, name: string): TaskJson => {
    const found = workflow(wf).tasks.find((t) => t.slug === name);
    assert.ok(found, `task ${wf}/${name}`);
    return found;
  };
  const cube = (wf: string, t: string, name: string): CubeJson => {
    const found = task(wf, t).cubes.find((c) => c.slug === name);
    assert.ok(found, `cube ${wf}/${t}/${name}`);
    return found;
  };
  const log = async (wf: string, t: string, c: string): Promise<string> => {
    const lines = await new FileLogStore(join(repo, '.git', 'conveyor', 'logs')).read(
      run.id,
      cube(wf, t, c).id,
    );
    return lines.map((l) => l.text).join('\n');
  };

  before(async () => {
    repo = tempRepo({ '.conveyor/ci.yaml': CONFIG, 'README.md': 'hello from the repo\n' });
    // An uncommitted file: `conveyor run` tests the working tree, not only HEAD.
    writeFileSync(join(repo, 'local-change.txt'), 'yes');
    const result = await runCli(
      ['run', '--json', '--input', 'TARGET=linux', '--secret', 'API_TOKEN=tok-s3cr3t-value'],
      { cwd: repo, timeoutMs: 90_000 },
    );
    code = result.code;
    stdout = result.stdout;
    run = JSON.parse(result.stdout) as RunJson;
  });

  it('exits 1 and the run is failed (failed wins over timeout)', () => {
    assert.equal(code, 1);
    assert.equal(run.status, 'failed');
    assert.equal(run.event_type, 'manual');
    assert.equal(run.slug, '1');
  });

  it('has the SourceCraft Run shape with dates and progress', () => {
    for (const key of ['id', 'slug', 'dates', 'status', 'workflows', 'event_type', 'error_messages'])
      assert.ok(key in run, key);
    const d = run.dates;
    const [created, started, finished, updated] = [
      defined(d.created_at),
      defined(d.started_at),
      defined(d.finished_at),
      defined(d.updated_at),
    ];
    assert.ok(created <= started && started <= finished && updated >= finished);
    for (const w of run.workflows) {
      assert.equal(w.progress.percent, 1);
      for (const t of w.tasks)
        for (const c of t.cubes)
          assert.ok(['success', 'failed', 'canceled', 'timeout'].includes(c.status), `${c.slug} ${c.status}`);
    }
  });

  it('workflow statuses roll up from their tasks', () => {
    assert.deepEqual(
      run.workflows.map((w) => [w.slug, w.status]),
      [
        ['build', 'success'],
        ['failing', 'failed'],
        ['slow', 'timeout'],
      ],
    );
  });

  it('passes env scopes, env files, inputs, cube outputs and predefined variables', async () => {
    const text = await log('build', 'prepare', 'show');
    assert.match(text, /^scopes=global\/wf\/t\/cube env=passed$/m);
    assert.match(text, /^target=linux mode=debug$/m);
    assert.match(text, /^version=1\.4\.2$/m);
    assert.match(text, /^ci=true sc=true cube=show event=manual ref=main$/m);
    assert.match(text, /^uncommitted=yes$/m);
    assert.deepEqual(task('build', 'prepare').outputs, { VERSION: '1.4.2', NOTES: 'line one\nline two' });
    assert.deepEqual(cube('build', 'prepare', 'version').outputs, {
      VERSION: '1.4.2',
      NOTES: 'line one\nline two',
    });
  });

  it('masks secrets in logs and never prints them in the JSON', async () => {
    const text = await log('build', 'prepare', 'show');
    assert.match(text, /^token=\*\*\* env-token=\*\*\*$/m);
    assert.ok(!text.includes('tok-s3cr3t-value'));
    assert.ok(!stdout.includes('tok-s3cr3t-value'));
  });

  it('task outputs reach tasks that need the producer', async () => {
    assert.equal(cube('build', 'test', 'use-task-output').status, 'success');
    assert.match(await log('build', 'test', 'use-task-output'), /^got 1\.4\.2$/m);
    assert.deepEqual(task('build', 'test').relations, { needs: [{ name: 'prepare' }, { name: 'lint' }] });
    const lintEnd = defined(task('build', 'lint').dates.finished_at);
    const prepareEnd = defined(task('build', 'prepare').dates.finished_at);
    const testStart = defined(task('build', 'test').dates.started_at);
    assert.ok(testStart >= lintEnd && testStart >= prepareEnd);
  });

  it('an allow_failure cube fails without failing its task, and the next cube runs', () => {
    const flaky = cube('build', 'lint', 'flaky');
    assert.deepEqual([flaky.status, flaky.exit_code, flaky.allow_failure], ['failed', 4, true]);
    assert.equal(cube('build', 'lint', 'after-flaky').status, 'success');
    assert.equal(task('build', 'lint').status, 'success');
  });

  it('runs container cubes with the task directory mounted, sharing the workspace', async () => {
    assert.equal(cube('build', 'test', 'in-container').status, 'success');
    const text = await log('build', 'test', 'in-container');
    assert.match(text, /^container workspace \/sourcecraft\/workspace pwd \/sourcecraft\/workspace$/m);
    assert.match(text, /^hello from the repo$/m);
    assert.match(await log('build', 'test', 'after-container'), /^written-by-container$/m);
  });

  it('stores artifacts with size and sha256; a missing path is missing', () => {
    const artifacts = cube('build', 'prepare', 'package').artifacts;
    assert.deepEqual(
      artifacts.map((a) => [a.local_path, a.status]),
      [
        ['dist/', 'success'],
        ['*.xml', 'success'],
        ['missing/file.txt', 'missing'],
      ],
    );
    const dist = defined(artifacts[0]);
    const files = defined(dist.files);
    assert.deepEqual(
      files.map((f) => f.path),
      ['dist/app.txt', 'dist/sub/n.txt'],
    );
    const stored = readFileSync(join(fileURLToPath(defined(dist.download_url)), 'app.txt'));
    assert.equal(stored.toString(), 'app 1.4.2\n');
    assert.equal(files[0]?.size, stored.length);
    assert.equal(files[0]?.sha256, createHash('sha256').update(stored).digest('hex'));
    assert.ok(dist.dates.registered_at && dist.dates.obtained_at);
    assert.equal(artifacts[2]?.download_url, undefined);
  });

  it('a failing cube fails its task; what depends on it is canceled, not started', () => {
    const fail = cube('failing', 'breaks', 'fail');
    assert.deepEqual(
      [fail.status, fail.exit_code, fail.error_message],
      ['failed', 7, 'script exited with code 7'],
    );
    const skipped = cube('failing', 'breaks', 'skipped');
    assert.equal(skipped.status, 'canceled');
    assert.equal(skipped.dates.started_at, undefined);
    assert.equal(task('failing', 'breaks').status, 'failed');
    assert.equal(task('failing', 'dependent').status, 'canceled');
    assert.equal(cube('failing', 'dependent', 'never').status, 'canceled');
    assert.equal(task('failing', 'independent').status, 'success');
  });

  it("cubes with needs: ['-'] run in parallel", () => {
    const a = cube('failing', 'independent', 'parallel-1').dates;
    const b = cube('failing', 'independent', 'parallel-2').dates;
    assert.ok(
      defined(a.started_at) < defined(b.finished_at) && defined(b.started_at) < defined(a.finished_at),
      'the two cubes overlap in time',
    );
  });

  it('a cube over max_cube_duration times out and the rest of its task is canceled', async () => {
    const sleeper = cube('slow', 'hangs', 'sleeper');
    assert.equal(sleeper.status, 'timeout');
    const took =
      Date.parse(defined(sleeper.dates.finished_at)) - Date.parse(defined(sleeper.dates.started_at));
    assert.ok(took >= 900 && took < 10_000, `took ${took} ms`);
    assert.match(await log('slow', 'hangs', 'sleeper'), /max_cube_duration \(1\.0s\)/);
    assert.equal(cube('slow', 'hangs', 'after-timeout').status, 'canceled');
    assert.equal(task('slow', 'hangs').status, 'timeout');
    assert.equal(workflow('slow').status, 'timeout');
  });
});
