import { Command, Option } from 'commander';
import pc from 'picocolors';
import { UsageError } from './output.js';

const collect = (value: string, previous: string[]): string[] => [...previous, value];

function program(): Command {
  const cli = new Command('conveyor')
    .description('Conveyor: self-hosted CI/CD. Runs .conveyor/ci.yaml (SourceCraft format) pipelines.')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    // Usage errors exit 2 like config errors; set before the subcommands so they inherit it.
    .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));

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
    .action(async (flags: import('./commands/run.js').RunFlags) => {
      const { runCommand } = await import('./commands/run.js');
      process.exitCode = await runCommand(flags);
    });

  cli
    .command('validate')
    .description('check a pipeline config; exit 0 when valid, 2 when not')
    .argument('[path]', 'a config file, or a repository directory (default: the current directory)')
    .addOption(new Option('--json', 'print the result as JSON'))
    .action(async (path: string | undefined, flags: { json?: boolean }) => {
      const { validateCommand } = await import('./commands/validate.js');
      process.exitCode = await validateCommand(path, flags);
    });
  return cli;
}

export async function main(argv: string[]): Promise<void> {
  const cli = program();
  try {
    await cli.parseAsync(argv);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(
        `${pc.red('error')}: ${error.message}\n${error.hint ? `  hint: ${error.hint}\n` : ''}`,
      );
      process.exitCode = 2;
      return;
    }
    throw error;
  }
}

await main(process.argv);
