import { stat } from 'node:fs/promises';
import { relative, resolve } from 'node:path';
import pc from 'picocolors';
import { CONFIG_PATHS, loadConfig, loadConfigFile, type LoadedConfig } from '../../app/load-config.js';
import { findWorkTree } from '../../workspace/git.js';
import { printDiagnostics, UsageError } from '../output.js';

/** `conveyor validate [PATH]`: exit 0 when valid (warnings allowed), 2 when not. */
export async function validateCommand(path: string | undefined, flags: { json?: boolean }): Promise<number> {
  const loaded = await load(resolve(path ?? '.'));
  const valid = loaded.config !== undefined;
  if (flags.json) {
    process.stdout.write(
      JSON.stringify({ valid, file: loaded.file, diagnostics: loaded.diagnostics }, null, 2) + '\n',
    );
    return valid ? 0 : 2;
  }
  printDiagnostics(loaded.diagnostics);
  if (!loaded.config) {
    const errors = loaded.diagnostics.filter((d) => d.severity === 'error').length;
    process.stderr.write(`${pc.red('✗')} ${loaded.file}: ${errors} error${errors === 1 ? '' : 's'}\n`);
    return 2;
  }
  const workflows = loaded.config.workflows;
  const tasks = workflows.flatMap((w) => w.tasks);
  const cubes = tasks.flatMap((t) => t.cubes);
  process.stdout.write(
    `${pc.green('✓')} ${loaded.file} is valid: ${workflows.length} workflow(s), ${tasks.length} task(s), ${cubes.length} cube(s)\n`,
  );
  return 0;
}

async function load(target: string): Promise<LoadedConfig> {
  const info = await stat(target).catch(() => undefined);
  if (!info) throw new UsageError(`${target} does not exist`, 'give a config file or a repository directory');
  if (info.isFile()) return loadConfigFile(target, relative(process.cwd(), target) || target);
  const root = (await findWorkTree(target)) ?? target;
  const loaded = await loadConfig(root);
  if (!loaded) {
    throw new UsageError(
      `no pipeline config in ${root}`,
      `create ${CONFIG_PATHS[0]} (or ${CONFIG_PATHS[2]}) with a workflows: section`,
    );
  }
  return loaded;
}
