import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseCiConfig, type ParseResult } from '../core/config/parse-config.js';

/** Where a repository keeps its pipeline, in the order they are looked for. */
export const CONFIG_PATHS = [
  '.conveyor/ci.yaml',
  '.conveyor/ci.yml',
  '.sourcecraft/ci.yaml',
  '.sourcecraft/ci.yml',
];

export interface LoadedConfig extends ParseResult {
  /** Path relative to the repository root, as used in diagnostics. */
  file: string;
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
    return { file, ...parseCiConfig(text, file) };
  }
  return undefined;
}

/** Parses a config file given by path (for `conveyor validate FILE`). */
export async function loadConfigFile(path: string, displayName = path): Promise<LoadedConfig> {
  const text = await readFile(path, 'utf8');
  return { file: displayName, ...parseCiConfig(text, displayName) };
}
