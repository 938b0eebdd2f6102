/** A `${{ context.path }}` reference found in a config string. */
export interface ExprRef {
  context: string;
  path: string[];
  /** The whole `${{ ... }}` text. */
  raw: string;
  /** Offset of `${{` in the string. */
  offset: number;
}

export interface ExprScanError {
  offset: number;
  message: string;
  hint: string;
}

const EXPR = /\$\{\{([\s\S]*?)\}\}/g;
const PATH = /^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)+$/;

export const SUPPORTED_EXPRESSIONS =
  'secrets.NAME, inputs.NAME, env.NAME, cubes.CUBE.outputs.KEY, tasks.TASK.outputs.KEY or tokens.TOKEN.id_token';

/** Finds every expression in `text`; malformed ones are reported, not guessed at. */
export function scanExpressions(text: string): { refs: ExprRef[]; errors: ExprScanError[] } {
  const refs: ExprRef[] = [];
  const errors: ExprScanError[] = [];
  for (const match of text.matchAll(EXPR)) {
    const inner = (match[1] ?? '').trim();
    const offset = match.index;
    if (!PATH.test(inner)) {
      errors.push({
        offset,
        message: `unsupported expression '${match[0]}'`,
        hint: `Conveyor expressions are plain references: ${SUPPORTED_EXPRESSIONS}`,
      });
      continue;
    }
    const [context = '', ...path] = inner.split('.');
    refs.push({ context, path, raw: match[0], offset });
  }
  const starts = new Set([...text.matchAll(EXPR)].map((m) => m.index));
  for (let i = text.indexOf('${{'); i >= 0; i = text.indexOf('${{', i + 3)) {
    if (starts.has(i)) continue;
    errors.push({
      offset: i,
      message: "'${{' is not closed with '}}'",
      hint: 'write expressions as ${{ secrets.NAME }}',
    });
    break;
  }
  return { refs, errors };
}

/**
 * Replaces every well-formed expression using `lookup`. A lookup that returns undefined leaves an
 * error for the caller (collected in `missing`) and substitutes the empty string.
 */
export function substitute(
  text: string,
  lookup: (ref: ExprRef) => string | undefined,
  missing: ExprRef[] = [],
): string {
  if (!text.includes('${{')) return text;
  return text.replace(EXPR, (raw, inner: string, offset: number) => {
    const trimmed = inner.trim();
    if (!PATH.test(trimmed)) return raw;
    const [context = '', ...path] = trimmed.split('.');
    const ref = { context, path, raw, offset };
    const value = lookup(ref);
    if (value === undefined) {
      missing.push(ref);
      return '';
    }
    return value;
  });
}
