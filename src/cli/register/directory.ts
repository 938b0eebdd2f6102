import type { Command } from 'commander';
import type * as Dir from '../commands/directory.js';
import { outOptions } from './shared.js';

const repoFlag = (c: Command) =>
  c.option(
    '-R, --repo <org/repo>',
    'the repository (env CONVEYOR_REPO; default: the one this checkout is linked to)',
  );

/** Administration without curl: organizations, repositories, users, tokens, roles, webhooks. */
export function addDirectoryCommands(cli: Command): void {
  const load = () => import('../commands/directory.js');

  const orgs = cli.command('orgs').description('organizations');
  outOptions(orgs.command('create').description('create an organization').argument('<slug>', 'e.g. acme'))
    .option('--name <name>', 'display name (default: the slug)')
    .action(async (slug: string, flags: Dir.OutFlags & { name?: string }) => {
      process.exitCode = await (await load()).orgsCreate(slug, flags);
    });
  outOptions(
    orgs.command('list').description('organizations you belong to (all, for administrators)'),
  ).action(async (flags: Dir.OutFlags) => {
    process.exitCode = await (await load()).orgsList(flags);
  });

  const repos = cli.command('repos').description('repositories');
  const repoFields = (c: Command) =>
    c
      .option('--clone-url <url>', 'any URL git can fetch, or a local path')
      .option('--name <name>', 'display name')
      .option('--description <text>', 'description')
      .option('--default-branch <branch>', "default branch (default: the remote's HEAD)")
      .option('--poll <seconds>', 'fetch and look for pushes this often (0: webhooks only; default 60)');
  outOptions(
    repoFields(
      repos.command('create').description('register a repository').argument('<org/repo>', 'e.g. acme/demo'),
    ),
  ).action(async (name: string, flags: Dir.RepoCreateFlags) => {
    process.exitCode = await (await load()).reposCreate(name, flags);
  });
  outOptions(repos.command('list').description('repositories you can read'))
    .option('--org <org>', 'only this organization')
    .action(async (flags: Dir.OutFlags & { org?: string }) => {
      process.exitCode = await (await load()).reposList(flags);
    });
  outOptions(
    repoFlag(
      repos
        .command('get')
        .description('show a repository')
        .argument('[org/repo]', "default: --repo or this checkout's"),
    ),
  ).action(async (name: string | undefined, flags: Dir.OutFlags & { repo?: string }) => {
    process.exitCode = await (await load()).reposGet(name, flags);
  });
  outOptions(
    repoFields(
      repoFlag(
        repos
          .command('update')
          .description('change a repository')
          .argument('[org/repo]', "default: --repo or this checkout's"),
      ),
    ),
  ).action(async (name: string | undefined, flags: Dir.RepoCreateFlags & { repo?: string }) => {
    process.exitCode = await (await load()).reposUpdate(name, flags);
  });
  outOptions(
    repos
      .command('delete')
      .description('delete a repository (its runs stay stored)')
      .argument('<org/repo>', 'the repository'),
  )
    .option('--yes', 'really delete')
    .action(async (name: string, flags: Dir.OutFlags & { yes?: boolean }) => {
      process.exitCode = await (await load()).reposDelete(name, flags);
    });
  outOptions(
    repos
      .command('link')
      .description("make ORG/REPO this checkout's default (git config conveyor.repo)")
      .argument('<org/repo>', 'the repository'),
  ).action(async (name: string, flags: Dir.OutFlags) => {
    process.exitCode = (await load()).reposLink(name, flags);
  });

  const users = cli.command('users').description('users (administrators only)');
  outOptions(users.command('create').description('create a user').argument('<slug>', 'user name, e.g. alice'))
    .option('--email <email>', 'email address (default: SLUG@localhost)')
    .option('--first-name <name>', 'first name')
    .option('--last-name <name>', 'last name')
    .option('--admin', 'make the user a server administrator')
    .option('--token', 'also create a first token and print it (with -q: only the token)')
    .action(async (slug: string, flags: Dir.UserFlags) => {
      process.exitCode = await (await load()).usersCreate(slug, flags);
    });
  outOptions(users.command('list').description('list users')).action(async (flags: Dir.OutFlags) => {
    process.exitCode = await (await load()).usersList(flags);
  });

  const tokens = cli.command('tokens').description('personal access tokens');
  const userFlag = (c: Command) =>
    c.option('--user <slug>', 'another user (administrators only; default: you)');
  outOptions(userFlag(tokens.command('create').description('create a token (shown once)')))
    .option('--note <text>', 'what it is for')
    .option('--expires <when>', 'a date, or a number of days like 30d')
    .action(async (flags: Dir.OutFlags & { user?: string; note?: string; expires?: string }) => {
      process.exitCode = await (await load()).tokensCreate(flags);
    });
  outOptions(userFlag(tokens.command('list').description('list tokens (never their values)'))).action(
    async (flags: Dir.OutFlags & { user?: string }) => {
      process.exitCode = await (await load()).tokensList(flags);
    },
  );
  outOptions(
    userFlag(tokens.command('revoke').description('revoke a token').argument('<id>', 'token id')),
  ).action(async (id: string, flags: Dir.OutFlags & { user?: string }) => {
    process.exitCode = await (await load()).tokensRevoke(id, flags);
  });

  const roles = cli.command('roles').description("users' roles on a repository");
  for (const verb of ['grant', 'revoke'] as const)
    outOptions(
      repoFlag(
        roles
          .command(verb)
          .description(`${verb} a role: viewer | contributor | developer | maintainer | admin`)
          .argument('<user>', 'user slug')
          .argument('<role>', 'the role'),
      ),
    ).action(async (user: string, role: string, flags: Dir.OutFlags & { repo?: string }) => {
      process.exitCode = await (await load()).rolesChange(verb, user, role, flags);
    });
  outOptions(repoFlag(roles.command('list').description('who has which role'))).action(
    async (flags: Dir.OutFlags & { repo?: string }) => {
      process.exitCode = await (await load()).rolesList(flags);
    },
  );

  const webhook = cli.command('webhook').description("a repository's webhook");
  outOptions(
    repoFlag(webhook.command('show').description('the URLs and the secret to paste into GitHub or GitLab')),
  ).action(async (flags: Dir.OutFlags & { repo?: string }) => {
    process.exitCode = await (await load()).webhookShow(flags);
  });
}
