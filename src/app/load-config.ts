import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Diagnostic } from '../core/config/diagnostics.js';
import { parseCiConfig, type ParseResult } from '../core/config/parse-config.js';

/** SourceCraft's deprecated root file (it also held review rules and branch policies); still read. */
export const LEGACY_CONFIG_PATH = '.src.ci.yaml';

/** Where a repository keeps its pipeline, in the order they are looked for. */
export const CONFIG_PATHS = [
  '.conveyor/ci.yaml',
  '.conveyor/ci.yml',
  '.sourcecraft/ci.yaml',
  '.sourcecraft/ci.yml',
  LEGACY_CONFIG_PATH,
];

export interface LoadedConfig extends ParseResult {
  /** Path relative to the repository root, as used in diagnostics. */
  file: string;
}

/** Parses a config read from `file`; the legacy root file gets a deprecation warning first. */
export function parseConfigFile(text: string, file: string): ParseResult {
  const parsed = parseCiConfig(text, file);
  if (basename(file) !== LEGACY_CONFIG_PATH) return parsed;
  const warning: Diagnostic = {
    severity: 'warning',
    file,
    line: 1,
    column: 1,
    message: `${LEGACY_CONFIG_PATH} is SourceCraft's deprecated config file; Conveyor reads it only when there is no .conveyor/ci.yaml or .sourcecraft/ci.yaml`,
    hint: 'move it to .sourcecraft/ci.yaml (SourceCraft moved review rules and branch policies to .sourcecraft/review.yaml and branches.yaml)',
  };
  return { ...parsed, diagnostics: [warning, ...parsed.diagnostics] };
}

/** Finds and parses the config of a checkout; undefined when there is none. */
export async function loadConfig(dir: string): Promise<LoadedConfig | undefined> {
  for (const file of CONFIG_PATHS) {
    let text: string;
    try {
      text = await readFile(join(dir, file), 'utf8');
    } catch {
      continue;
    }
    return { file, ...parseConfigFile(text, file) };
  }
  return undefined;
}

/** Parses a config file given by path (for `conveyor validate FILE`). */
export async function loadConfigFile(path: string, displayName = path): Promise<LoadedConfig> {
  const text = await readFile(path, 'utf8');
  return { file: displayName, ...parseConfigFile(text, displayName) };
}

/** Diagnostics as one line each: `file:line:col: message (hint: ...)`, for run error messages and warnings. */
export function diagnosticLine(d: Diagnostic): string {
  return `${d.file}:${d.line}:${d.column}: ${d.message}${d.hint ? ` (hint: ${d.hint})` : ''}`;
}
