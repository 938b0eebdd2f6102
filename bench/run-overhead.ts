import { benchRepo, CONVEYOR, median, printTable, timeCommand } from './harness.js';

const TASKS = 3;
const CUBES = 100;

function config(parallelCubes: boolean): string {
  const lines = ['workflows:', '  bench:', '    tasks:'];
  for (let t = 0; t < TASKS; t++) {
    lines.push(`      - name: t${t}`, '        cubes:');
    for (let c = 0; c < CUBES; c++) {
      lines.push(
        `          - name: c${c}`,
        ...(parallelCubes ? ["            needs: ['-']"] : []),
        "            script: 'true'",
      );
    }
  }
  return lines.join('\n') + '\n';
}

/**
 * Orchestration overhead: `conveyor run` of 300 cubes of `true` against bash running the same 300
 * commands (`bash -c true` each), measured alternately in the same run.
 */
export async function benchOverhead(runs: number): Promise<void> {
  const total = TASKS * CUBES;
  const variants = [
    {
      name: `deep: ${TASKS} tasks x ${CUBES} sequential cubes`,
      repo: benchRepo({ '.conveyor/ci.yaml': config(false) }),
    },
    {
      name: `wide: ${TASKS} tasks x ${CUBES} parallel cubes`,
      repo: benchRepo({ '.conveyor/ci.yaml': config(true) }),
    },
  ];
  const baseline: number[] = [];
  const samples = new Map<string, number[]>(variants.map((v) => [v.name, []]));
  const rss = new Map<string, number[]>(variants.map((v) => [v.name, []]));
  for (let i = 0; i < runs; i++) {
    baseline.push((await timeCommand('bash', ['-c', `for i in $(seq ${total}); do bash -c true; done`])).ms);
    for (const v of variants) {
      const result = await timeCommand(CONVEYOR, ['run', '--json', '-C', v.repo]);
      if (result.code !== 0) throw new Error(`conveyor run failed in ${v.repo}`);
      samples.get(v.name)?.push(result.ms);
      rss.get(v.name)?.push(result.peakRssKb);
    }
  }
  const base = median(baseline);
  const rows: (string | number)[][] = [
    [`bash: ${total} x bash -c true`, base.toFixed(0), '1.00', (base / total).toFixed(2), '-', '-'],
  ];
  for (const v of variants) {
    const ms = median(samples.get(v.name) ?? []);
    rows.push([
      `conveyor run, ${v.name}`,
      ms.toFixed(0),
      (ms / base).toFixed(2),
      (ms / total).toFixed(2),
      ((ms - base) / total).toFixed(2),
      (median(rss.get(v.name) ?? []) / 1024).toFixed(0),
    ]);
  }
  printTable(
    `Orchestration overhead (${total} cubes, median of ${runs} runs; target ratio < 2.0)`,
    ['what', 'ms', 'ratio', 'ms/cube', 'overhead ms/cube', 'peak RSS MB'],
    rows,
  );
}
