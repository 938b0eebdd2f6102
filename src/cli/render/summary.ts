import pc from 'picocolors';
import { formatDuration } from '../../core/config/duration.js';
import type { RunRecord } from '../../core/run/model.js';
import type { LogStore } from '../../ports/log-store.js';
import { colorStatus } from '../output.js';

/** The end of `conveyor run` on a terminal: totals, then the log tail of every cube that failed. */
export async function printSummary(
  run: RunRecord,
  logs: LogStore,
  out: NodeJS.WritableStream,
  artifactsDir: string,
): Promise<void> {
  const cubes = run.workflows.flatMap((w) => w.tasks.flatMap((t) => t.cubes.map((c) => ({ w, t, c }))));
  const counts = new Map<string, number>();
  for (const { c } of cubes) counts.set(c.status, (counts.get(c.status) ?? 0) + 1);
  const took =
    run.dates.finishedAt && run.dates.startedAt
      ? ` in ${formatDuration(run.dates.finishedAt - run.dates.startedAt)}`
      : '';
  const tally = [...counts].map(([status, n]) => `${n} ${status}`).join(', ');
  for (const message of run.errorMessages) out.write(`${pc.red('!')} ${message}\n`);
  for (const { w, t, c } of cubes) {
    if (c.status !== 'failed' && c.status !== 'timeout') continue;
    if (c.errorMessage?.startsWith('not started')) continue;
    const lines = await logs.read(run.id, c.id);
    const tail = lines.slice(-20);
    const label = c.allowFailure ? pc.yellow(' (allowed to fail)') : '';
    out.write(
      `\n${pc.bold(`── ${w.slug} / ${t.slug} / ${c.slug}`)}: ${colorStatus(c.status)}${label}${c.errorMessage ? `: ${c.errorMessage}` : ''}\n`,
    );
    if (lines.length > tail.length) out.write(pc.dim(`   … ${lines.length - tail.length} earlier lines\n`));
    for (const line of tail) out.write(`   ${line.text}\n`);
  }
  for (const { w, t, c } of cubes) {
    for (const a of c.artifacts) {
      if (a.status !== 'success')
        out.write(
          `${pc.yellow('!')} artifact ${a.localPath} of ${w.slug}/${t.slug}/${c.slug} is ${a.status}${a.error ? `: ${a.error}` : ''}\n`,
        );
    }
  }
  const stored = cubes.some(({ c }) => c.artifacts.some((a) => a.status === 'success'));
  out.write(
    `\nRun ${run.slug} ${colorStatus(run.status)}${took}: ${cubes.length} cube${cubes.length === 1 ? '' : 's'} (${tally})\n`,
  );
  if (stored) out.write(`Artifacts: ${artifactsDir}/${run.slug}/\n`);
}
