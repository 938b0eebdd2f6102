import type { Command } from 'commander';
import type * as D from '../commands/deploy.js';
import { collect, repoOption } from './shared.js';

/** Environments, releases, deploy and deployment runs. */
export function addDeployCommands(cli: Command): void {
  const load = () => import('../commands/deploy.js');
  const repo = repoOption;
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
    .option('--wait', 'wait until the run is done or waits for a review; exit 1 when it failed')
    .option('-q, --quiet', 'print only the deployment run id')
    .action(
      async (release: string, flags: D.ProjectFlags & D.FollowFlags & { env?: string; comment?: string }) => {
        process.exitCode = await (await load()).deployCommand(release, flags);
      },
    );
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
      .option('--wait', 'then wait until the run is done or waits for the next review')
      .option('-q, --quiet', 'print only the deployment run id')
      .action(
        async (run: string, flags: D.ProjectFlags & D.FollowFlags & { comment?: string; env?: string }) => {
          process.exitCode = await (await load()).deploymentsReview(run, conclusion, flags);
        },
      );
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
