import type { Command } from 'commander';
import type * as A from '../commands/account.js';
import type * as R from '../commands/runs.js';
import { repoOption } from './shared.js';

/** Runs on a server, and CI secrets. */
export function addRunCommands(cli: Command): void {
  const runs = cli.command('runs').description('CI runs on a server');
  const load = () => import('../commands/runs.js');
  repoOption(runs.command('list').description('list runs, newest first'))
    .option('-q, --quiet', 'print only the run numbers')
    .option('-s, --status <status>', 'only runs with this status (comma-separated: failed,timeout)')
    .option('-b, --branch <branch>', 'only runs on this branch')
    .option('-w, --workflow <name>', 'only runs of this workflow')
    .option('-L, --limit <n>', 'at most this many runs (a page)')
    .option('--page-size <n>', 'runs per page (the same as --limit)')
    .option('--page-token <token>', 'continue from a previous page')
    .action(async (flags: R.ListFlags & { limit?: string }) => {
      process.exitCode = await (
        await load()
      ).runsList({
        ...flags,
        ...(flags.limit ? { pageSize: flags.limit } : {}),
      });
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
    .option('--watch', 'show the live tree until the run ends (like runs watch); exit 0 only on success')
    .option('-q, --quiet', 'print only the run number')
    .action(async (workflow: string, inputs: string[], flags: R.TriggerFlags) => {
      process.exitCode = await (await load()).runsTrigger(workflow, inputs, flags);
    });
  repoOption(
    runs
      .command('watch')
      .description('the live tree of a run until it ends; exit 0 only on success (default: the newest run)')
      .argument('[run]', 'run number'),
  ).action(async (run: string | undefined, flags: R.RepoFlags) => {
    process.exitCode = await (await load()).runsWatch(run, flags);
  });
  repoOption(
    runs
      .command('view')
      .description('show a run as a tree; --log-failed adds the logs of the cubes that failed')
      .argument('<run>', 'run number'),
  )
    .option('--log-failed', "print the failed cubes' logs")
    .action(async (run: string, flags: R.RepoFlags & { logFailed?: boolean }) => {
      process.exitCode = await (await load()).runsView(run, flags);
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
  const loadSecrets = () => import('../commands/account.js');
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
