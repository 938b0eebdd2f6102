/**
 * Parses a `$SOURCECRAFT_ENV` / `$SOURCECRAFT_OUTPUT` file: `KEY=VALUE` lines and heredoc
 * blocks `KEY<<DELIM` ... `DELIM` for multi-line values. Later assignments win.
 */
export function parseEnvFile(text: string): { values: Record<string, string>; errors: string[] } {
  const values: Record<string, string> = {};
  const errors: string[] = [];
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] ?? '').replace(/\r$/, '');
    if (line.trim() === '') continue;
    const heredoc = /^([A-Za-z_][A-Za-z0-9_-]*)<<(\S+)$/.exec(line);
    if (heredoc) {
      const [, key = '', delimiter] = heredoc;
      const end = lines.findIndex((l, j) => j > i && l.replace(/\r$/, '') === delimiter);
      if (end < 0) {
        errors.push(`line ${i + 1}: '${key}<<${delimiter}' is not closed by a line '${delimiter}'`);
        break;
      }
      values[key] = lines.slice(i + 1, end).join('\n');
      i = end;
      continue;
    }
    const eq = line.indexOf('=');
    const key = eq > 0 ? line.slice(0, eq) : '';
    if (!/^[A-Za-z_][A-Za-z0-9_-]*$/.test(key)) {
      errors.push(`line ${i + 1}: expected KEY=VALUE or KEY<<DELIMITER, got '${line.slice(0, 60)}'`);
      continue;
    }
    values[key] = line.slice(eq + 1);
  }
  return { values, errors };
}
