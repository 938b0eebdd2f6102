import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { globSync } from 'tinyglobby';
import { within } from './step-process.js';

/**
 * `hashFiles(patterns)` as GitHub computes it: the files of the workspace the patterns match
 * (`!` excludes), in path order; each file's SHA-256 fed into one SHA-256. Empty when nothing matches.
 */
export function hashFiles(workspace: string, patterns: string[]): string {
  const include = patterns.filter((p) => !p.startsWith('!'));
  const ignore = patterns.filter((p) => p.startsWith('!')).map((p) => p.slice(1));
  if (include.length === 0) return '';
  // Files only the workspace holds: a symlink out of it is skipped (the runner reads with its own rights).
  const files = globSync(include, {
    cwd: workspace,
    ignore,
    onlyFiles: true,
    dot: true,
    followSymbolicLinks: false,
  })
    .filter((file) => within(workspace, join(workspace, file)))
    .sort();
  if (files.length === 0) return '';
  const all = createHash('sha256');
  for (const file of files)
    all.update(
      createHash('sha256')
        .update(readFileSync(join(workspace, file)))
        .digest(),
    );
  return all.digest('hex');
}
