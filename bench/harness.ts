import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CONVEYOR = fileURLToPath(new URL('../../bin/conveyor', import.meta.url));

export interface Timed {
  ms: number;
  peakRssKb: number;
  stdout: string;
  code: number | null;
}

/** Runs a command, timing it from spawn to exit and sampling its peak RSS (VmHWM) from /proc. */
export function timeCommand(
  command: string,
  args: string[],
  cwd?: string,
  env: Record<string, string> = {},
): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(command, args, {
      cwd,
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, NO_COLOR: '1', ...env },
    });
    let stdout = '';
    let peakRssKb = 0;
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const sample = setInterval(() => {
      try {
        const hwm = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        if (hwm) peakRssKb = Math.max(peakRssKb, Number(hwm[1]));
      } catch {
        // exited
      }
    }, 10);
    child.on('error', reject);
    let ms = 0;
    child.on('exit', () => {
      ms = performance.now() - started;
      clearInterval(sample);
    });
    child.on('close', (code) => resolve({ ms, peakRssKb, stdout, code }));
  });
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

/** A git repository with the given files committed, in a temp dir removed when the benchmark exits. */
const created: string[] = [];
process.on('exit', () => {
  for (const dir of created) rmSync(dir, { recursive: true, force: true });
});

export function benchRepo(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'conveyor-bench-'));
  created.push(dir);
  execFileSync('git', ['init', '-q', '-b', 'main', dir]);
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  execFileSync('git', ['add', '-A'], { cwd: dir });
  execFileSync('git', ['-c', 'user.name=b', '-c', 'user.email=b@b', 'commit', '-qm', 'bench'], { cwd: dir });
  return dir;
}

export function printTable(title: string, header: string[], rows: (string | number)[][]): void {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) =>
    r.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  console.log(`\n${title}`);
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of cells.slice(1)) console.log(line(r));
}
