import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, renameSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { ActionHost } from '../helpers/actions.js';
import { publishActions } from '../helpers/action-fixtures.js';
import { runCli } from '../helpers/cli.js';
import { tempRepo } from '../helpers/repo.js';

const CONFIG = `env:
  WHO: from-env
workflows:
  actions:
    tasks:
      - name: js
        cubes:
          - name: greet
            action: acme/greet@v1
            with:
              who: \${{ env.WHO }}
              node-version: "20"
          - name: after
            script:
              - echo "out=\${{ cubes.greet.outputs.greeting }} legacy=\${{ cubes.greet.outputs.legacy }} env=$FROM_ACTION"
              - greet-tool
      - name: composite
        cubes:
          - name: comp
            action: acme/toolkit/composite@v2
            with:
              name: nested
          - name: show
            script:
              - echo "comp=\${{ cubes.comp.outputs.greeting }} x=\${{ cubes.comp.outputs.x }}"
      - name: docker
        cubes:
          - name: dock
            action: acme/docker-hello@v1
            with:
              who: container
          - name: show
            script:
              - echo "dock=\${{ cubes.dock.outputs.said }}"
              - cat from-container.txt
  failing:
    tasks:
      - name: f
        cubes:
          - name: bad
            action: acme/greet@v1
            with:
              who: fail
  escape:
    tasks:
      - name: e
        cubes:
          - name: symlinked
            action: ./evil
  missing:
    tasks:
      - name: m
        cubes:
          - name: nowhere
            action: acme/no-such-action@v1
`;

interface CubeOut {
  id: string;
  slug: string;
  status: string;
  error_message?: string;
  outputs: Record<string, string>;
}
interface RunOut {
  id: string;
  status: string;
  workflows: { tasks: { slug: string; cubes: CubeOut[] }[] }[];
}

describe('GitHub Actions cubes with conveyor run', () => {
  const host = new ActionHost();
  let repo: string;

  before(() => {
    publishActions(host);
    repo = tempRepo({ '.sourcecraft/ci.yaml': CONFIG, 'sub/.keep': '' }, { commit: false });
    // A local action that is a symlink out of the workspace (to an action of the host).
    symlinkSync(join(host.root, 'acme', 'greet'), join(repo, 'evil'));
    execFileSync('git', ['add', '-A'], { cwd: repo });
    execFileSync('git', ['-c', 'user.name=T', '-c', 'user.email=t@e', 'commit', '-qm', 'init'], {
      cwd: repo,
    });
  });

  async function run(workflow: string, env: Record<string, string> = {}) {
    const result = await runCli(['run', '--json', '-w', workflow], {
      cwd: repo,
      env: { CONVEYOR_ACTIONS_URL: host.url, ...env },
      timeoutMs: 120_000,
    });
    assert.ok(result.stdout.startsWith('{'), `no JSON: ${result.stderr}`);
    const out = JSON.parse(result.stdout) as RunOut;
    const cube = (task: string, slug: string): CubeOut => {
      const found = out.workflows[0]?.tasks.find((t) => t.slug === task)?.cubes.find((c) => c.slug === slug);
      assert.ok(found, `no cube ${task}/${slug}`);
      return found;
    };
    const log = (task: string, slug: string) =>
      readFileSync(join(repo, '.git/conveyor/logs', out.id, `${cube(task, slug).id}.log`), 'utf8');
    return { code: result.code, out, cube, log };
  }

  it('runs a JavaScript, a composite and a docker action; their outputs, env and PATH reach later cubes', async () => {
    const { code, out, cube, log } = await run('actions');
    assert.equal(out.status, 'success', JSON.stringify(out, null, 2));
    assert.equal(code, 0);
    const greet = log('js', 'greet');
    assert.match(greet, /downloaded/);
    assert.match(greet, /pre ran\n/);
    assert.match(greet, /hello from-env \(node-version=20, repo=local\/conveyor-test-repo-\w+\)/);
    assert.match(greet, /workspace=true state=yes actions=true/);
    assert.match(greet, /event=workflow_dispatch repository=local\/conveyor-test-repo-\w+ sha=40/);
    assert.match(greet, /the masked value is \*\*\*\n/);
    assert.doesNotMatch(greet, /masked-from-env|::add-mask::|::set-output/);
    assert.match(greet, /##\[group\]Details\ninside the group\n##\[endgroup\]\n/);
    assert.match(
      greet,
      /##\[group\]Step summary \(run acme\/greet@v1 \(main\)\)\n### Greeted from-env\n##\[endgroup\]/,
    );
    assert.match(greet, /post ran: pre=yes main=yes/);
    assert.deepEqual(cube('js', 'greet').outputs, {
      greeting: 'hello from-env',
      legacy: 'from-set-output',
      lines: 'one\ntwo',
    });
    assert.equal(
      log('js', 'after'),
      'out=hello from-env legacy=from-set-output env=set-by-greet\ngreet-tool on PATH\n',
    );

    const comp = log('composite', 'comp');
    assert.match(comp, /hello nested/);
    assert.match(comp, /nested said hello nested in sub with FROM_ACTION=set-by-greet/);
    assert.match(comp, /step 3 \(Only on failure\): skipped/);
    assert.doesNotMatch(comp, /this must not run/);
    assert.match(comp, /step 4 \(Allowed to fail\) failed; continue-on-error lets the action go on/);
    assert.match(comp, /helper says Linux/);
    assert.match(comp, /docker step in \/sourcecraft\/workspace/);
    assert.deepEqual(cube('composite', 'comp').outputs, { greeting: 'hello nested', x: 'nested-x' });
    assert.equal(log('composite', 'show'), 'comp=hello nested x=nested-x\n');

    const dock = log('docker', 'dock');
    assert.match(dock, /built localhost\/conveyor-action-acme-docker-hello:/);
    assert.match(
      dock,
      /in the container: arg=container input=container pwd=\/sourcecraft\/workspace ws=\/sourcecraft\/workspace/,
    );
    assert.equal(log('docker', 'show'), 'dock=hello container\nwritten by the docker action\n');
  });

  it('a failing action fails its cube with its error annotation; post still runs', async () => {
    const { code, cube, log } = await run('failing');
    assert.equal(code, 1);
    const bad = cube('f', 'bad');
    assert.equal(bad.status, 'failed');
    assert.match(
      bad.error_message ?? '',
      /run acme\/greet@v1 \(main\) exited with code 1: src\/app\.js:12:3: cannot greet fail/,
    );
    assert.match(
      log('f', 'bad'),
      /##\[error\]src\/app\.js:12:3: Greeting: cannot greet fail\n[\s\S]*post ran/,
    );
  });

  it('actions are cached by commit; with the remote gone the last resolution of the ref is used', async () => {
    const again = await run('actions');
    assert.equal(again.out.status, 'success');
    assert.match(again.log('js', 'greet'), /acme\/greet@v1 = [0-9a-f]{12} \(cached\)/);
    assert.match(again.log('docker', 'dock'), /is already built/);
    const moved = `${host.root}-away`;
    renameSync(host.root, moved);
    try {
      const offline = await run('actions');
      assert.equal(offline.out.status, 'success');
      assert.match(offline.log('js', 'greet'), /could not be reached, so v1 is the commit it was at/);
    } finally {
      renameSync(moved, host.root);
    }
  });

  it('a local action may not lead the runner out of the workspace through a symlink', async () => {
    const { cube } = await run('escape');
    const symlinked = cube('e', 'symlinked');
    assert.equal(symlinked.status, 'failed');
    assert.match(symlinked.error_message ?? '', /action \.\/evil: evil leads outside the workspace/);
  });

  it('an action that does not exist fails its cube, saying where it was looked for', async () => {
    const { cube } = await run('missing');
    const nowhere = cube('m', 'nowhere');
    assert.equal(nowhere.status, 'failed');
    assert.match(
      nowhere.error_message ?? '',
      /cannot read the action repository file:\/\/.*acme\/no-such-action/,
    );
  });
});
