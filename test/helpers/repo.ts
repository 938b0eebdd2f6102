import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

// Every temp dir a test file makes is removed when that test process exits.
const created: string[] = [];
process.on('exit', () => created.forEach(remove));

/** A real git repository in a temp dir with the given files committed. */
export function tempRepo(files: Record<string, string>, options: { commit?: boolean } = {}): string {
  const dir = tempDir('conveyor-test-repo-');
  execFileSync('git', ['init', '-q', '-b', 'main', dir]);
  writeFiles(dir, files);
  if (options.commit !== false) {
    execFileSync('git', ['add', '-A'], { cwd: dir });
    execFileSync(
      'git',
      [
        '-c',
        'user.name=Test',
        '-c',
        'user.email=test@example.com',
        'commit',
        '-qm',
        'initial commit\n\nbody line',
      ],
      { cwd: dir },
    );
  }
  return dir;
}

export function writeFiles(dir: string, files: Record<string, string>): void {
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
}

/**
 * A temp dir others may read (mode 0755): as root, cubes run as the unprivileged cube user, and
 * tests hand them marker files in these dirs.
 */
export function tempDir(prefix = 'conveyor-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o755);
  created.push(dir);
  return dir;
}

/**
 * An empty file every cube may append to. Cubes run as the worker's unprivileged cube users when
 * the tests run as root, so the file and its folder are open to all.
 */
export function sharedRecord(): string {
  const dir = tempDir();
  chmodSync(dir, 0o777);
  const record = join(dir, 'record');
  writeFileSync(record, '', { mode: 0o666 });
  chmodSync(record, 0o666);
  return record;
}

export function remove(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
