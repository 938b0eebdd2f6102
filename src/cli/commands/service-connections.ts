import type { Command } from 'commander';
import { ApiClient, loadConfig, repoPrefix } from '../client.js';
import { UsageError } from '../output.js';

export interface ConnectionFlags {
  repo?: string;
  org?: string;
  json?: boolean;
}

interface ConnectionJson {
  name: string;
  scope: 'repo' | 'org';
  audience: string;
  service_account_id?: string;
  folder_id?: string;
  updated_at: string;
}

const print = (text: string) => process.stdout.write(text);

function base(flags: ConnectionFlags): string {
  if (flags.org && flags.repo) throw new UsageError('give --repo or --org, not both');
  if (flags.org) return `/orgs/${encodeURIComponent(flags.org)}/cicd/service-connections`;
  return `${repoPrefix(flags.repo)}/cicd/service-connections`;
}

function describe(c: ConnectionJson): string {
  const extra = [
    c.service_account_id ? `service account ${c.service_account_id}` : '',
    c.folder_id ? `folder ${c.folder_id}` : '',
  ].filter(Boolean);
  return `${c.name.padEnd(28)} audience ${c.audience}${extra.length ? `, ${extra.join(', ')}` : ''}`;
}

/** `conveyor service-connections set NAME --audience AUD [--service-account-id ID] [--folder-id ID]`. */
export async function connectionsSet(
  name: string,
  flags: ConnectionFlags & { audience: string; serviceAccountId?: string; folderId?: string },
): Promise<number> {
  const saved = await new ApiClient(loadConfig()).request<ConnectionJson>(
    'PUT',
    `${base(flags)}/${encodeURIComponent(name)}`,
    {
      audience: flags.audience,
      ...(flags.serviceAccountId ? { service_account_id: flags.serviceAccountId } : {}),
      ...(flags.folderId ? { folder_id: flags.folderId } : {}),
    },
  );
  print(flags.json ? `${JSON.stringify(saved, null, 2)}\n` : `service connection set: ${describe(saved)}\n`);
  return 0;
}

export async function connectionsList(flags: ConnectionFlags): Promise<number> {
  const got = await new ApiClient(loadConfig()).request<{ service_connections: ConnectionJson[] }>(
    'GET',
    base(flags),
  );
  if (flags.json) print(`${JSON.stringify(got, null, 2)}\n`);
  else if (got.service_connections.length === 0) print('no service connections\n');
  else for (const c of got.service_connections) print(`${describe(c)}\n`);
  return 0;
}

export async function connectionsDelete(name: string, flags: ConnectionFlags): Promise<number> {
  await new ApiClient(loadConfig()).request('DELETE', `${base(flags)}/${encodeURIComponent(name)}`);
  print(flags.json ? `${JSON.stringify({ name, deleted: true })}\n` : `service connection ${name} deleted\n`);
  return 0;
}

/** Registers `conveyor service-connections set|list|delete`. */
export function addServiceConnectionCommands(cli: Command): void {
  const group = cli
    .command('service-connections')
    .description('service connections: what the OIDC id tokens of `tokens:` are for');
  const options = (c: Command) =>
    c
      .option('-R, --repo <org/repo>', 'the repository (env CONVEYOR_REPO)')
      .option('--org <org>', 'an organization instead (its repositories share it)')
      .option('--json', 'print JSON');
  options(group.command('set').description('create or change a service connection').argument('<name>'))
    .requiredOption('--audience <aud>', "the tokens' audience (aud), as the cloud side expects it")
    .option('--service-account-id <id>', 'for ${{ tokens.NAME.service_account_id }}')
    .option('--folder-id <id>', 'for ${{ tokens.NAME.folder_id }}')
    .action(async (name: string, flags: Parameters<typeof connectionsSet>[1]) => {
      process.exitCode = await connectionsSet(name, flags);
    });
  options(group.command('list').description('list service connections')).action(
    async (flags: ConnectionFlags) => {
      process.exitCode = await connectionsList(flags);
    },
  );
  options(group.command('delete').description('delete a service connection').argument('<name>')).action(
    async (name: string, flags: ConnectionFlags) => {
      process.exitCode = await connectionsDelete(name, flags);
    },
  );
}
