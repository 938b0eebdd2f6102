import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runCli } from '../helpers/cli.js';
import { tempRepo } from '../helpers/repo.js';

// ${{ env.NAME }} with SourceCraft's scopes: global, workflow, task, ($SOURCECRAFT_ENV,) cube.
const CONFIG = `env:
  LEVEL: global
  G: g
workflows:
  w:
    env:
      LEVEL: workflow
      FROM_OUTER: \${{ env.LEVEL }}
    tasks:
      - name: t
        env:
          LEVEL: task
          T_SEES: \${{ env.LEVEL }}/\${{ env.FROM_OUTER }}
        cubes:
          - name: first
            script:
              - echo "DYN=from-first" >> "$SOURCECRAFT_ENV"
          - name: second
            env:
              LEVEL: cube
              C_SEES: \${{ env.LEVEL }} \${{ env.DYN }} \${{ env.SOURCECRAFT_TASK }}
              SELF: \${{ env.C_SEES }}
            script:
              - echo "script=\${{ env.LEVEL }} T_SEES=$T_SEES C_SEES=$C_SEES SELF=[$SELF] G=\${{ env.G }} none=[\${{ env.NOPE }}]"
`;

describe('${{ env.NAME }} in conveyor run', () => {
  it('reads the outer scopes in env: values and the cube environment in scripts', async () => {
    const repo = tempRepo({ '.conveyor/ci.yaml': CONFIG });
    const result = await runCli(['run', '--json'], { cwd: repo });
    assert.equal(result.code, 0, result.stderr);
    assert.match(
      result.stderr,
      /no env: of this config sets 'NOPE'/,
      'validation warns about names nothing sets',
    );
    const run = JSON.parse(result.stdout) as {
      id: string;
      workflows: { tasks: { cubes: { id: string; slug: string }[] }[] }[];
    };
    const second = run.workflows[0]?.tasks[0]?.cubes.find((c) => c.slug === 'second');
    const log = readFileSync(join(repo, '.git/conveyor/logs', run.id, `${second?.id}.log`), 'utf8');
    assert.equal(log, 'script=cube T_SEES=workflow/global C_SEES=task from-first t SELF=[] G=g none=[]\n');
  });
});
