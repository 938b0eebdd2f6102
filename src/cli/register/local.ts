import { Command, Option } from 'commander';
import { collect } from './shared.js';

/** Commands that work on this machine without a server: run, validate, init. */
export function addLocalCommands(cli: Command): void {
  cli
    .command('run')
    .description("run the repository's pipeline on this machine, against its working tree")
    .option('-C, --dir <dir>', 'the repository (default: the current directory)')
    .option('-w, --workflow <name>', 'run this workflow (repeatable; default: all)', collect, [])
    .option('-i, --input <name=value>', 'a workflow input (repeatable)', collect, [])
    .option('-s, --secret <name=value>', 'a secret for ${{ secrets.NAME }} (repeatable)', collect, [])
    .option('--secrets-file <file>', 'read secrets from a NAME=VALUE file')
    .option('--json', 'print the finished run as one JSON document (SourceCraft Run shape)')
    .option('--artifacts-dir <dir>', 'where artifacts are stored (default: .conveyor/artifacts)')
    .option('-p, --parallel <n>', 'cubes that may run at once (default: twice the CPUs, at least 4)')
    .option('--keep-workspaces', 'keep the task directories after the run, for inspection')
    .option('--logs', "print every cube's output as it comes, prefixed by workflow/task/cube (like act)")
    .option(
      '--service-connection <name=audience[,sa,folder]>',
      'a service connection for ${{ tokens.* }}: id tokens are signed by a key kept in the repository (repeatable)',
      collect,
      [],
    )
    .action(async (flags: import('../commands/run.js').RunFlags) => {
      const { runCommand } = await import('../commands/run.js');
      process.exitCode = await runCommand(flags);
    });

  cli
    .command('validate')
    .description('check a pipeline config; exit 0 when valid, 2 when not')
    .argument('[path]', 'a config file, or a repository directory (default: the current directory)')
    .addOption(new Option('--json', 'print the result as JSON'))
    .action(async (path: string | undefined, flags: { json?: boolean }) => {
      const { validateCommand } = await import('../commands/validate.js');
      process.exitCode = await validateCommand(path, flags);
    });
  cli
    .command('init')
    .description('write a starter .conveyor/ci.yaml fitted to the project in this directory')
    .option('-C, --dir <dir>', 'the repository (default: the current directory)')
    .option('--force', 'overwrite an existing config')
    .option('--json', 'print JSON')
    .action(async (flags: { dir?: string; force?: boolean; json?: boolean }) => {
      const { initCommand } = await import('../commands/init.js');
      process.exitCode = await initCommand(flags);
    });
}
