import pc from 'picocolors';
import type { RunJson } from '../../transport/run-json.js';
import { colorStatus, statusIcon } from '../output.js';

const seconds = (d: { started_at?: string; finished_at?: string }): string => {
  if (!d.started_at) return '';
  const end = d.finished_at ? Date.parse(d.finished_at) : Date.now();
  return pc.dim(` ${((end - Date.parse(d.started_at)) / 1000).toFixed(1)}s`);
};

/** One line per run, for `conveyor runs list`. */
export function runLine(run: RunJson): string {
  const workflows = run.workflows.map((w) => w.slug).join(', ') || '-';
  const commit = run.commit
    ? ` ${run.commit.sha.slice(0, 8)} ${run.commit.ref.replace(/^refs\/(heads|tags)\//, '')}`
    : '';
  return `#${run.slug.padEnd(5)} ${colorStatus(run.status).padEnd(20)} ${run.event_type.padEnd(9)} ${workflows}${pc.dim(commit)}${seconds(run.dates)}`;
}

/** The run as a tree of workflows, tasks and cubes, for `conveyor runs get`. */
export function runTree(run: RunJson): string {
  const lines = [
    `Run #${run.slug} ${colorStatus(run.status)} (${run.event_type}${run.commit ? ` at ${run.commit.sha.slice(0, 12)}` : ''})${seconds(run.dates)}`,
  ];
  for (const message of run.error_messages) lines.push(`${pc.red('!')} ${message}`);
  for (const warning of run.warnings ?? []) lines.push(`${pc.yellow('warning')}: ${warning}`);
  for (const w of run.workflows) {
    lines.push(`${statusIcon(w.status)} ${pc.bold(w.slug)}${seconds(w.dates)}`);
    for (const t of w.tasks) {
      lines.push(
        `  ${statusIcon(t.status)} ${t.slug}${seconds(t.dates)}${t.message ? pc.yellow(` ${t.message}`) : ''}`,
      );
      for (const c of t.cubes) {
        const note = c.error_message ? pc.dim(` ${c.error_message}`) : '';
        lines.push(`    ${statusIcon(c.status)} ${c.slug}${seconds(c.dates)}${note}`);
        for (const a of c.artifacts) lines.push(`      ${pc.dim('artifact')} ${a.local_path} ${a.status}`);
      }
    }
  }
  return `${lines.join('\n')}\n`;
}
