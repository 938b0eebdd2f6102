import type { Command } from 'commander';

/** Collects a repeatable option's values. */
export const collect = (value: string, previous: string[]): string[] => [...previous, value];

/** `-R/--repo` (inferred from the checkout when absent) and `--json`. */
export const repoOption = (c: Command): Command =>
  c
    .option(
      '-R, --repo <org/repo>',
      'the repository (env CONVEYOR_REPO; default: the one this checkout is linked to)',
    )
    .option('--json', 'print JSON');

/** `--json` and `-q/--quiet` (ids only, one a line, for `$(...)`). */
export const outOptions = (c: Command): Command =>
  c.option('--json', 'print JSON').option('-q, --quiet', 'print only the id (or slug), for scripts');
