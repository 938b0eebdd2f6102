import picomatch from 'picomatch';

/**
 * SourceCraft filter lists (branches, tags, paths): read top to bottom, each later pattern overriding
 * the earlier ones; `!pattern` excludes. A list of only negations matches nothing, as documented:
 * "a negation on its own just blocks". `*` stops at `/`, `**` crosses it, `?` is one character.
 */
export function matchesFilter(patterns: readonly string[], value: string): boolean {
  let matched = false;
  for (const pattern of patterns) {
    const negated = pattern.startsWith('!');
    const glob = negated ? pattern.slice(1) : pattern;
    if (compiled(glob)(value)) matched = !negated;
  }
  return matched;
}

/** A filter on paths matches when any changed path matches it. */
export function matchesAnyPath(patterns: readonly string[], paths: readonly string[]): boolean {
  return paths.some((path) => matchesFilter(patterns, path));
}

const cache = new Map<string, (value: string) => boolean>();

function compiled(glob: string): (value: string) => boolean {
  let matcher = cache.get(glob);
  if (!matcher) {
    matcher = picomatch(glob, { dot: true, nonegate: true });
    if (cache.size > 1000) cache.clear();
    cache.set(glob, matcher);
  }
  return matcher;
}
