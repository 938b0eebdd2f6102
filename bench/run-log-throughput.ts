import { benchRepo, CONVEYOR, median, printTable, timeCommand } from './harness.js';

const BYTES = 200_000_000;
/** 100-byte lines: 99 characters and a newline. */
const PRODUCER = `yes "$(printf 'x%.0s' $(seq 99))" | head -c ${BYTES}`;

interface RunOut {
  workflows: { tasks: { cubes: { dates: { started_at: string; finished_at: string } }[] }[] }[];
}

/** Log throughput: one cube writing 200 MB to stdout, stored by the runner, against the producer alone. */
export async function benchLogThroughput(runs: number): Promise<void> {
  const repo = benchRepo({
    '.conveyor/ci.yaml': `workflows:\n  logs:\n    tasks:\n      - name: t\n        cubes:\n          - name: spew\n            script: ${JSON.stringify(PRODUCER)}\n`,
  });
  const producer: number[] = [];
  const cube: number[] = [];
  const rss: number[] = [];
  for (let i = 0; i < runs; i++) {
    producer.push((await timeCommand('bash', ['-c', `${PRODUCER} > /dev/null`])).ms);
    const result = await timeCommand(CONVEYOR, ['run', '--json', '-C', repo]);
    if (result.code !== 0) throw new Error('log benchmark run failed');
    const dates = (JSON.parse(result.stdout) as RunOut).workflows[0]?.tasks[0]?.cubes[0]?.dates;
    if (!dates) throw new Error('no cube dates');
    cube.push(Date.parse(dates.finished_at) - Date.parse(dates.started_at));
    rss.push(result.peakRssKb);
  }
  const mb = BYTES / 1e6;
  const p = median(producer);
  const c = median(cube);
  printTable(
    `Log throughput (${mb} MB from one cube, median of ${runs} runs; target >= 100 MB/s stored, runner RSS < 200 MB)`,
    ['what', 'ms', 'MB/s', 'peak RSS MB'],
    [
      ['producer alone, to /dev/null', p.toFixed(0), (mb / (p / 1000)).toFixed(0), '-'],
      [
        'conveyor run: cube start to end, stored',
        c.toFixed(0),
        (mb / (c / 1000)).toFixed(0),
        (median(rss) / 1024).toFixed(0),
      ],
    ],
  );
}
