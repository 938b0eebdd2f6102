import { Command, Help } from 'commander';
import pc from 'picocolors';
import { ApiError } from './client.js';
import { inferRepo } from './infer-repo.js';
import { EXIT, outputClosed, UsageError } from './output.js';
import { addServiceConnectionCommands } from './commands/service-connections.js';
import { addWorkerAdminCommands } from './commands/workers.js';
import { addAuthCommands } from './register/auth.js';
import { addDeployCommands } from './register/deploy.js';
import { addDirectoryCommands } from './register/directory.js';
import { addLocalCommands } from './register/local.js';
import { addRunCommands } from './register/runs.js';
import { addServerCommands } from './register/server.js';
import { addWorkerCommand } from './register/worker.js';

export const VERSION = '0.1.0';

export function program(): Command {
  const cli = new Command('conveyor')
    .description('Conveyor: self-hosted CI/CD. Runs .conveyor/ci.yaml (SourceCraft format) pipelines.')
    .version(VERSION, '-v, --version', 'print the version')
    .showHelpAfterError('(run with --help for usage)')
    .showSuggestionAfterError(true)
    // Usage errors exit 2 like config errors; set before the subcommands so they inherit it.
    .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : EXIT.usage));
  // Repeatable options start from []: saying so in every help line is noise.
  const help = new Help();
  cli.configureHelp({ optionDescription: (o) => help.optionDescription(o).replace(' (default: [])', '') });
  cli.addHelpText(
    'after',
    `
Examples:
  conveyor run                      run .conveyor/ci.yaml here, against the working tree
  conveyor login --server URL       sign in to a server (asks for the token)
  conveyor runs watch               the newest run of this checkout's repository, live
Exit codes: 0 success, 1 failed, 2 usage or config error, 3 server unreachable or not signed in.
Reference: docs/cli.md`,
  );
  // A command with --repo and none given (nor CONVEYOR_REPO) takes the checkout's repository.
  cli.hook('preAction', async (_root, action) => {
    if (!action.options.some((o) => o.long === '--repo')) return;
    if (action.getOptionValue('repo') !== undefined || process.env.CONVEYOR_REPO) return;
    const inferred = await inferRepo();
    if (inferred) action.setOptionValue('repo', inferred);
  });
  addLocalCommands(cli);
  addServerCommands(cli);
  addWorkerCommand(cli);
  addAuthCommands(cli);
  addDirectoryCommands(cli);
  addRunCommands(cli);
  addDeployCommands(cli);
  addServiceConnectionCommands(cli);
  addWorkerAdminCommands(cli);
  cli
    .command('completion')
    .description('print a shell completion script: bash, zsh or fish')
    .argument('<shell>', 'bash | zsh | fish')
    .addHelpText(
      'after',
      '\nbash: source <(conveyor completion bash)\nzsh:  source <(conveyor completion zsh)\nfish: conveyor completion fish | source',
    )
    .action(async (shell: string) => {
      const { completionScript } = await import('./commands/completion.js');
      process.stdout.write(completionScript(shell, program()));
    });
  return cli;
}

export async function main(argv: string[]): Promise<void> {
  // Piped into `head`: the reader went away; stop quietly, as git and gh do.
  for (const stream of [process.stdout, process.stderr])
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE') throw error;
      // A command with work under way (conveyor run) ends it properly; others stop at once.
      if (!outputClosed()) process.exit(process.exitCode ?? 0);
    });
  const cli = program();
  if (argv.length <= 2) {
    cli.outputHelp();
    process.exitCode = EXIT.usage;
    return;
  }
  try {
    await cli.parseAsync(argv);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(
        `${pc.red('error')}: ${error.message}\n${error.hint ? `  hint: ${error.hint}\n` : ''}`,
      );
      process.exitCode = error.exitCode;
      return;
    }
    if (error instanceof ApiError) {
      process.stderr.write(
        `${pc.red('error')}: ${error.message} (${error.code}, HTTP ${error.status}${error.requestId ? `, request ${error.requestId}` : ''})\n${apiHint(error)}`,
      );
      process.exitCode = error.status === 401 ? EXIT.unreachable : EXIT.failed;
      return;
    }
    throw error;
  }
}

function apiHint(error: ApiError): string {
  if (error.status === 401) return '  hint: log in again: conveyor login --server URL\n';
  if (error.status === 404 && /^repository|^run |repositor/i.test(error.message))
    return '  hint: check the repository (--repo ORG/REPO) and run number; repositories you may not read look missing\n';
  if (error.status === 404 && /^user/.test(error.message))
    return '  hint: conveyor users list shows who exists\n';
  return '';
}

await main(process.argv);
