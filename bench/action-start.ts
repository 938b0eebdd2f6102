import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { benchRepo, CONVEYOR, median, printTable, timeCommand } from './harness.js';

const CUBES = 20;
const NOOP = "require('fs').appendFileSync(process.env.GITHUB_OUTPUT || '/dev/null', 'done=1\\n');\n";

/** `CUBES` tasks in a chain, one cube each: every cube gets a fresh task directory, as in real runs. */
function config(cube: (i: number) => string[]): string {
  const lines = ['workflows:', '  bench:', '    tasks:'];
  for (let i = 0; i < CUBES; i++) {
    lines.push(`      - name: t${i}`, ...(i ? [`        needs: [t${i - 1}]`] : []), '        cubes:');
    lines.push(`          - name: c${i}`, ...cube(i).map((l) => `            ${l}`));
  }
  return `${lines.join('\n')}\n`;
}

/** A local git repository standing in for github.com, with one JavaScript action, `acme/noop@v1`. */
function actionHost(): string {
  const root = mkdtempSync(join(tmpdir(), 'conveyor-bench-actions-'));
  const dir = join(root, 'acme', 'noop');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'action.yml'), 'name: noop\nruns:\n  using: node20\n  main: noop.js\n');
  writeFileSync(join(dir, 'noop.js'), NOOP);
  const git = (...args: string[]) => execFileSync('git', args, { cwd: dir });
  git('init', '-q', '-b', 'main');
  git('add', '-A');
  git('-c', 'user.name=b', '-c', 'user.email=b@b', 'commit', '-qm', 'noop');
  git('tag', 'v1');
  return root;
}

/**
 * Start overhead of a cached JavaScript action cube over a script cube doing the same work: 20
 * cubes that run one node script, as `script: node noop.js` and as `action: acme/noop@v1` (action
 * cached, so what is left is resolving the ref, copying the action into the task, reading
 * action.yml and setting up GitHub's variables and files). Target: under 100 ms per cube.
 */
export async function benchActionStart(runs: number): Promise<void> {
  const hostRoot = actionHost();
  const script = benchRepo({
    'noop.js': NOOP,
    '.conveyor/ci.yaml': config(() => ['script: ["node noop.js"]']),
  });
  const action = benchRepo({ '.conveyor/ci.yaml': config(() => ['action: acme/noop@v1']) });
  const env = { CONVEYOR_ACTIONS_URL: pathToFileURL(hostRoot).href };
  const time = async (repo: string) => {
    const result = await timeCommand(CONVEYOR, ['run', '--json', '-C', repo], undefined, env);
    if (result.code !== 0) throw new Error(`conveyor run failed in ${repo}`);
    return result.ms;
  };
  await time(action); // fills the action cache
  const samples = { script: [] as number[], action: [] as number[] };
  for (let i = 0; i < runs; i++) {
    samples.script.push(await time(script));
    samples.action.push(await time(action));
  }
  const base = median(samples.script);
  const ms = median(samples.action);
  printTable(
    `Action cube start (${CUBES} chained tasks of one cube, median of ${runs} runs; target < 100 ms per cube)`,
    ['what', 'ms', 'ratio', 'ms/cube', 'overhead ms/cube'],
    [
      [`script cubes: node noop.js`, base.toFixed(0), '1.00', (base / CUBES).toFixed(1), '-'],
      [
        `action cubes: acme/noop@v1 (cached)`,
        ms.toFixed(0),
        (ms / base).toFixed(2),
        (ms / CUBES).toFixed(1),
        ((ms - base) / CUBES).toFixed(1),
      ],
    ],
  );
}
