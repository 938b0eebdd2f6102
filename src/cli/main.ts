import { Command, Option } from 'commander';
import pc from 'picocolors';
import { ApiError } from './client.js';
import type * as A from './commands/account.js';
import type * as R from './commands/runs.js';
import type * as D from './commands/deploy.js';
import { UsageError } from './output.js';
import { addServiceConnectionCommands } from './commands/service-connections.js';
import { addWorkerAdminCommands } from './commands/workers.js';

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
    .option(
      '--service-connection <name=audience[,sa,folder]>',
      'a service connection for ${{ tokens.* }}: id tokens are signed by a key kept in the repository (repeatable)',
      collect,
      [],
    )
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
  addServerCommands(cli);
  addClientCommands(cli);
  addDeployCommands(cli);
  addServiceConnectionCommands(cli);
  addWorkerAdminCommands(cli);
  return cli;
}

function addServerCommands(cli: Command): void {
  cli
    .command('server')
    .description('run the Conveyor server: REST API, embedded worker, webhooks, polling and schedules')
    .option('--host <host>', 'address to listen on (env CONVEYOR_HOST; default 127.0.0.1)')
    .option('--port <port>', 'port (env CONVEYOR_PORT; default 8080)')
    .option('--data-dir <dir>', 'data directory (env CONVEYOR_DATA_DIR; default ./conveyor-data)')
    .option(
      '--database-url <url>',
      'postgres://... to use PostgreSQL (env CONVEYOR_DATABASE_URL; default SQLite in the data dir)',
    )
    .option('--concurrency <n>', 'runs executing at once (env CONVEYOR_CONCURRENCY)')
    .action(async (flags: import('./commands/server.js').ServerFlags) => {
      const { serverCommand } = await import('./commands/server.js');
      process.exitCode = await serverCommand(flags);
    });

  const admin = cli.command('admin').description('administration on the database directly');
  admin
    .command('create-user')
    .description('create a user and print a personal access token for it')
    .requiredOption('--slug <slug>', 'user name')
    .requiredOption('--email <email>', 'email address')
    .option('--first-name <name>', 'first name')
    .option('--last-name <name>', 'last name')
    .option('--admin', 'make the user a server administrator')
    .option('--data-dir <dir>', 'data directory (env CONVEYOR_DATA_DIR; default ./conveyor-data)')
    .option('--database-url <url>', 'PostgreSQL URL (env CONVEYOR_DATABASE_URL)')
    .option('--json', 'print JSON')
    .action(async (flags: import('./commands/admin.js').CreateUserFlags) => {
      const { createUserCommand } = await import('./commands/admin.js');
      process.exitCode = await createUserCommand(flags);
    });
}

function addClientCommands(cli: Command): void {
  cli
    .command('login')
    .description('check a token against a server and remember both (in ~/.config/conveyor)')
    .requiredOption('--server <url>', 'server URL, e.g. http://127.0.0.1:8080')
    .requiredOption('--token <token>', 'personal access token')
    .option('--json', 'print JSON')
    .action(async (flags: { server: string; token: string; json?: boolean }) => {
      const { loginCommand } = await import('./commands/account.js');
      process.exitCode = await loginCommand(flags);
    });

  const repoOption = (c: Command) =>
    c.option('-R, --repo <org/repo>', 'the repository (env CONVEYOR_REPO)').option('--json', 'print JSON');
  const runs = cli.command('runs').description('CI runs on a server');
  const load = () => import('./commands/runs.js');
  repoOption(runs.command('list').description('list runs, newest first'))
    .option('--page-size <n>', 'runs per page')
    .option('--page-token <token>', 'continue from a previous page')
    .action(async (flags: R.RepoFlags & { pageSize?: string; pageToken?: string }) => {
      process.exitCode = await (await load()).runsList(flags);
    });
  repoOption(runs.command('get').description('show a run as a tree').argument('<run>', 'run number')).action(
    async (run: string, flags: R.RepoFlags) => {
      process.exitCode = await (await load()).runsGet(run, flags);
    },
  );
  repoOption(
    runs
      .command('trigger')
      .description('start a workflow by hand')
      .argument('<workflow>', 'workflow name')
      .argument('[inputs...]', 'inputs as NAME=VALUE'),
  )
    .option('--branch <branch>', 'run on this branch (default: the default branch)')
    .option('--tag <tag>', 'run on this tag')
    .option('--commit <sha>', 'run on this commit')
    .option('--wait', 'follow the run until it ends; exit 0 only on success')
    .action(async (workflow: string, inputs: string[], flags: R.TriggerFlags) => {
      process.exitCode = await (await load()).runsTrigger(workflow, inputs, flags);
    });
  repoOption(runs.command('cancel').description('cancel a run').argument('<run>', 'run number')).action(
    async (run: string, flags: R.RepoFlags) => {
      process.exitCode = await (await load()).runsCancel(run, flags);
    },
  );
  repoOption(
    runs.command('restart').description('start a finished run again').argument('<run>', 'run number'),
  )
    .option('--failed', 'rerun only failed tasks and what needs them')
    .action(async (run: string, flags: R.RepoFlags & { failed?: boolean }) => {
      process.exitCode = await (await load()).runsRestart(run, flags);
    });
  repoOption(
    runs
      .command('logs')
      .description("print a cube's log (all cubes without a path)")
      .argument('<run>', 'run number')
      .argument('[path]', 'WORKFLOW/TASK/CUBE'),
  )
    .option('-f, --follow', 'keep printing until the cube ends')
    .action(async (run: string, path: string | undefined, flags: R.RepoFlags & { follow?: boolean }) => {
      process.exitCode = await (await load()).runsLogs(run, path, flags);
    });
  const artifacts = runs.command('artifacts').description("a cube's artifacts");
  repoOption(
    artifacts
      .command('download')
      .description('download the artifacts of a cube')
      .argument('<run>', 'run number')
      .argument('<path>', 'WORKFLOW/TASK/CUBE'),
  )
    .option('-o, --output <dir>', 'directory to save into (default: .)')
    .action(async (run: string, path: string, flags: R.RepoFlags & { output?: string }) => {
      process.exitCode = await (await load()).artifactsDownload(run, path, flags);
    });

  const secrets = cli.command('secrets').description('write-only CI secrets of a repository or organization');
  const secretOptions = (c: Command) =>
    c
      .option('-R, --repo <org/repo>', 'the repository (env CONVEYOR_REPO)')
      .option('--org <org>', 'an organization instead')
      .option('--json', 'print JSON');
  const loadSecrets = () => import('./commands/account.js');
  secretOptions(
    secrets
      .command('set')
      .description('set a secret (value from stdin or --value)')
      .argument('<name>', 'secret name'),
  )
    .option('--value <value>', 'the value (prefer stdin: it stays out of shell history)')
    .action(async (name: string, flags: A.SecretFlags & { value?: string }) => {
      process.exitCode = await (await loadSecrets()).secretsSet(name, flags);
    });
  secretOptions(secrets.command('list').description('list secret names')).action(
    async (flags: A.SecretFlags) => {
      process.exitCode = await (await loadSecrets()).secretsList(flags);
    },
  );
  secretOptions(
    secrets.command('delete').description('delete a secret').argument('<name>', 'secret name'),
  ).action(async (name: string, flags: A.SecretFlags) => {
    process.exitCode = await (await loadSecrets()).secretsDelete(name, flags);
  });
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
    if (error instanceof ApiError) {
      process.stderr.write(
        `${pc.red('error')}: ${error.message} (${error.code}, HTTP ${error.status}${error.requestId ? `, request ${error.requestId}` : ''})\n${apiHint(error)}`,
      );
      process.exitCode = 1;
      return;
    }
    throw error;
  }
}

function addDeployCommands(cli: Command): void {
  const load = () => import('./commands/deploy.js');
  const repo = (c: Command) =>
    c.option('-R, --repo <org/repo>', 'the repository (env CONVEYOR_REPO)').option('--json', 'print JSON');
  const envOptions = (c: Command) =>
    repo(c)
      .option('--name <name>', 'display name')
      .option('--order <n>', 'position in the deployment workflow')
      .option('--workflow <name>', 'the ci.yaml workflow that deploys ("" for record-only)')
      .option('--approval <mode>', 'none | none_create_request | require_any | require_one_per_team')
      .option('--reviewer <user>', 'a reviewer, by slug or id (repeatable)', collect, [])
      .option('--in-workflow', 'take part in deployment workflows (the default for new environments)')
      .option('--no-in-workflow', 'deploy here only on request')
      .option('--timeout <duration>', 'reject a review that takes longer, e.g. 72h');
  const envs = cli.command('envs').description('deployment environments of a repository');
  repo(envs.command('list').description('list environments in workflow order')).action(
    async (flags: D.ProjectFlags) => {
      process.exitCode = await (await load()).envsList(flags);
    },
  );
  envOptions(
    envs.command('create').description('create an environment').argument('<key>', 'unique key, e.g. staging'),
  ).action(async (key: string, flags: D.EnvFlags) => {
    process.exitCode = await (await load()).envsCreate(key, flags);
  });
  envOptions(envs.command('update').description('change an environment').argument('<key>', 'its key')).action(
    async (key: string, flags: D.EnvFlags) => {
      process.exitCode = await (await load()).envsUpdate(key, flags);
    },
  );
  const releases = cli.command('releases').description('immutable, versioned bundles to deploy');
  repo(releases.command('create').description('create a draft release').argument('<name>', 'release name'))
    .option('--from-run <n>', 'the CI run whose commit and artifacts it holds')
    .option('--commit <sha>', "the commit (default: the run's, else the default branch)")
    .option('--description <text>', 'description')
    .option('--publish <bump>', 'publish at once: major | minor | patch')
    .action(
      async (
        name: string,
        flags: D.ProjectFlags & { fromRun?: string; commit?: string; publish?: string; description?: string },
      ) => {
        process.exitCode = await (await load()).releasesCreate(name, flags);
      },
    );
  repo(
    releases
      .command('publish')
      .description('publish a draft with the next version')
      .argument('<id>', 'release id'),
  )
    .option('--bump <part>', 'major | minor | patch (default patch)')
    .action(async (id: string, flags: D.ProjectFlags & { bump?: string }) => {
      process.exitCode = await (await load()).releasesPublish(id, flags);
    });
  repo(releases.command('list').description('list releases, newest first')).action(
    async (flags: D.ProjectFlags) => {
      process.exitCode = await (await load()).releasesList(flags);
    },
  );
  repo(
    cli
      .command('deploy')
      .description('deploy a release: through the whole workflow, or to one environment')
      .argument('<release>', 'id, version or name'),
  )
    .option('--env <key>', 'one environment only')
    .option('--comment <text>', 'why')
    .action(async (release: string, flags: D.ProjectFlags & { env?: string; comment?: string }) => {
      process.exitCode = await (await load()).deployCommand(release, flags);
    });
  const deployments = cli.command('deployments').description('deployment runs');
  repo(deployments.command('list').description('list deployment runs'))
    .option('--status <status>', 'only runs with this status')
    .action(async (flags: D.ProjectFlags & { status?: string }) => {
      process.exitCode = await (await load()).deploymentsList(flags);
    });
  repo(deployments.command('get').description('show a deployment run').argument('<run>', 'run id')).action(
    async (run: string, flags: D.ProjectFlags) => {
      process.exitCode = await (await load()).deploymentsGet(run, flags);
    },
  );
  for (const [verb, conclusion] of [
    ['approve', 'approved'],
    ['reject', 'rejected'],
  ] as const) {
    repo(
      deployments.command(verb).description(`${verb} the job waiting for review`).argument('<run>', 'run id'),
    )
      .option('--comment <text>', 'why')
      .option('--env <key>', 'the environment, when several jobs wait')
      .action(async (run: string, flags: D.ProjectFlags & { comment?: string; env?: string }) => {
        process.exitCode = await (await load()).deploymentsReview(run, conclusion, flags);
      });
  }
  repo(
    deployments
      .command('cancel')
      .description('cancel a waiting or running deployment')
      .argument('<run>', 'run id'),
  )
    .option('--comment <text>', 'why')
    .action(async (run: string, flags: D.ProjectFlags & { comment?: string }) => {
      process.exitCode = await (await load()).deploymentsCancel(run, flags);
    });
}

function apiHint(error: ApiError): string {
  if (error.status === 401) return '  hint: log in again: conveyor login --server URL --token TOKEN\n';
  if (error.status === 404)
    return '  hint: check the repository (--repo ORG/REPO) and run number; repositories you may not read look missing\n';
  return '';
}

await main(process.argv);
