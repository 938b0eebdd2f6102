import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { ApiClient, loadConfig, repoPrefix, splitRepo } from '../client.js';
import { printJson, printTable, UsageError } from '../output.js';

/** Flags every listing and creating command shares: JSON for scripts, ids only for `$(...)`. */
export interface OutFlags {
  json?: boolean;
  quiet?: boolean;
}

const api = () => new ApiClient(loadConfig());
const print = (text: string) => process.stdout.write(text);

interface OrgJson {
  id: string;
  slug: string;
  name: string;
}
interface RepoJson {
  id: string;
  slug: string;
  name: string;
  default_branch: string;
  organization: { slug: string };
  source_url: string;
  poll_interval_seconds: number;
}
interface UserJson {
  id: string;
  slug: string;
  email: string;
  admin: boolean;
}
interface TokenJson {
  id: string;
  note: string;
  created_at: string;
  expires_at?: string;
  revoked_at?: string;
}

function out(flags: OutFlags, value: unknown, id: string, text: () => void): number {
  if (flags.json) printJson(value);
  else if (flags.quiet) print(`${id}\n`);
  else text();
  return 0;
}

export async function orgsCreate(slug: string, flags: OutFlags & { name?: string }): Promise<number> {
  const org = await api().request<OrgJson>('POST', '/orgs', { slug, name: flags.name ?? slug });
  return out(flags, org, org.slug, () => print(`created organization ${org.slug}\n`));
}

export async function orgsList(flags: OutFlags): Promise<number> {
  const { organizations } = await api().request<{ organizations: OrgJson[] }>('GET', '/orgs');
  if (flags.json) printJson({ organizations });
  else if (flags.quiet) for (const o of organizations) print(`${o.slug}\n`);
  else if (organizations.length === 0) print('no organizations yet: conveyor orgs create SLUG\n');
  else
    printTable(
      ['SLUG', 'NAME'],
      organizations.map((o) => [o.slug, o.name]),
    );
  return 0;
}

export interface RepoCreateFlags extends OutFlags {
  cloneUrl?: string;
  name?: string;
  defaultBranch?: string;
  poll?: string;
  description?: string;
}

function pollSeconds(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 86400)
    throw new UsageError(
      `--poll '${value}' is not a whole number of seconds (0 to 86400)`,
      '--poll 0 turns polling off',
    );
  return n;
}

export async function reposCreate(name: string, flags: RepoCreateFlags): Promise<number> {
  const [org, slug] = splitRepo(name);
  if (!flags.cloneUrl)
    throw new UsageError(
      'give the repository to fetch with --clone-url URL',
      'a URL git can fetch, or a local path',
    );
  // A local path is stored absolute, so the server finds it whatever its working directory.
  const cloneUrl =
    /^[a-z][a-z0-9+.-]*:/i.test(flags.cloneUrl) || flags.cloneUrl.startsWith('git@')
      ? flags.cloneUrl
      : resolve(flags.cloneUrl);
  const poll = pollSeconds(flags.poll);
  const repo = await api().request<RepoJson & { webhook_secret: string }>(
    'POST',
    `/orgs/${encodeURIComponent(org)}/repos`,
    {
      slug,
      name: flags.name ?? slug,
      clone_url: cloneUrl,
      ...(flags.defaultBranch ? { default_branch: flags.defaultBranch } : {}),
      ...(poll !== undefined ? { poll_interval_seconds: poll } : {}),
      ...(flags.description ? { description: flags.description } : {}),
    },
  );
  return out(flags, repo, `${org}/${repo.slug}`, () =>
    print(
      `created repository ${org}/${repo.slug} (default branch ${repo.default_branch}, ${repo.poll_interval_seconds ? `polled every ${repo.poll_interval_seconds} s` : 'not polled'})\n` +
        `webhook: conveyor webhook show -R ${org}/${repo.slug}\n`,
    ),
  );
}

export async function reposList(flags: OutFlags & { org?: string }): Promise<number> {
  const path = flags.org ? `/orgs/${encodeURIComponent(flags.org)}/repos` : '/repos';
  const { repositories } = await api().request<{ repositories: RepoJson[] }>('GET', path);
  const full = (r: RepoJson) => `${r.organization.slug}/${r.slug}`;
  if (flags.json) printJson({ repositories });
  else if (flags.quiet) for (const r of repositories) print(`${full(r)}\n`);
  else if (repositories.length === 0)
    print('no repositories yet: conveyor repos create ORG/REPO --clone-url URL\n');
  else
    printTable(
      ['REPOSITORY', 'BRANCH', 'POLL', 'CLONE URL'],
      repositories.map((r) => [
        full(r),
        r.default_branch,
        r.poll_interval_seconds ? `${r.poll_interval_seconds}s` : 'off',
        r.source_url,
      ]),
    );
  return 0;
}

export async function reposGet(
  name: string | undefined,
  flags: OutFlags & { repo?: string },
): Promise<number> {
  const repo = await api().request<RepoJson>('GET', repoPrefix(name ?? flags.repo));
  return out(flags, repo, `${repo.organization.slug}/${repo.slug}`, () =>
    printTable(
      ['FIELD', 'VALUE'],
      [
        ['repository', `${repo.organization.slug}/${repo.slug}`],
        ['name', repo.name],
        ['default branch', repo.default_branch],
        ['poll', repo.poll_interval_seconds ? `every ${repo.poll_interval_seconds} s` : 'off'],
        ['clone url', repo.source_url],
        ['id', repo.id],
      ],
    ),
  );
}

export async function reposUpdate(
  name: string | undefined,
  flags: RepoCreateFlags & { repo?: string },
): Promise<number> {
  const poll = pollSeconds(flags.poll);
  const body = {
    ...(flags.name ? { name: flags.name } : {}),
    ...(flags.description !== undefined ? { description: flags.description } : {}),
    ...(flags.cloneUrl ? { clone_url: flags.cloneUrl } : {}),
    ...(flags.defaultBranch ? { default_branch: flags.defaultBranch } : {}),
    ...(poll !== undefined ? { poll_interval_seconds: poll } : {}),
  };
  if (Object.keys(body).length === 0)
    throw new UsageError(
      'nothing to change',
      'pass --default-branch, --poll, --clone-url, --name or --description',
    );
  const repo = await api().request<RepoJson>('PATCH', repoPrefix(name ?? flags.repo), body);
  return out(flags, repo, `${repo.organization.slug}/${repo.slug}`, () =>
    print(`updated ${repo.organization.slug}/${repo.slug} (default branch ${repo.default_branch})\n`),
  );
}

export async function reposDelete(name: string, flags: OutFlags & { yes?: boolean }): Promise<number> {
  if (!flags.yes) throw new UsageError(`deleting ${name} needs --yes`, `conveyor repos delete ${name} --yes`);
  await api().request('DELETE', repoPrefix(name));
  return out(flags, { deleted: name }, name, () => print(`deleted repository ${name}\n`));
}

/** `repos link ORG/REPO`: the checkout's default repository, kept in .git/config like `gh repo set-default`. */
export function reposLink(name: string, flags: OutFlags): number {
  const [org, slug] = splitRepo(name);
  try {
    execFileSync('git', ['config', '--local', 'conveyor.repo', `${org}/${slug}`], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
  } catch {
    throw new UsageError(
      'not inside a git repository',
      'run it in your checkout, or pass --repo / set CONVEYOR_REPO',
    );
  }
  return out(flags, { repo: `${org}/${slug}` }, `${org}/${slug}`, () =>
    print(`commands run in this checkout now use ${org}/${slug} (git config conveyor.repo)\n`),
  );
}

export interface UserFlags extends OutFlags {
  email?: string;
  admin?: boolean;
  firstName?: string;
  lastName?: string;
  token?: boolean;
}

export async function usersCreate(slug: string, flags: UserFlags): Promise<number> {
  const client = api();
  const user = await client.request<UserJson>('POST', '/users', {
    slug,
    email: flags.email ?? `${slug}@localhost`,
    ...(flags.firstName ? { first_name: flags.firstName } : {}),
    ...(flags.lastName ? { last_name: flags.lastName } : {}),
    ...(flags.admin ? { admin: true } : {}),
  });
  // With --token the new user gets a first token at once: the one thing a new user needs.
  const token = flags.token
    ? await client.request<TokenJson & { token: string }>(
        'POST',
        `/users/${encodeURIComponent(user.slug)}/tokens`,
        {
          note: 'created with the user',
        },
      )
    : undefined;
  if (flags.json) printJson({ ...user, ...(token ? { token: token.token } : {}) });
  else if (flags.quiet) print(`${token ? token.token : user.slug}\n`);
  else {
    print(`created user ${user.slug}${user.admin ? ' (administrator)' : ''}\n`);
    if (token) print(`token (shown once): ${token.token}\n`);
  }
  return 0;
}

export async function usersList(flags: OutFlags): Promise<number> {
  const { users } = await api().request<{ users: UserJson[] }>('GET', '/users');
  if (flags.json) printJson({ users });
  else if (flags.quiet) for (const u of users) print(`${u.slug}\n`);
  else
    printTable(
      ['USER', 'EMAIL', 'ADMIN'],
      users.map((u) => [u.slug, u.email, u.admin ? 'yes' : '']),
    );
  return 0;
}

async function me(client: ApiClient): Promise<UserJson> {
  return client.request<UserJson>('GET', '/user');
}

export async function tokensCreate(
  flags: OutFlags & { user?: string; note?: string; expires?: string },
): Promise<number> {
  const client = api();
  const user = flags.user ?? (await me(client)).slug;
  const token = await client.request<TokenJson & { token: string }>(
    'POST',
    `/users/${encodeURIComponent(user)}/tokens`,
    {
      ...(flags.note ? { note: flags.note } : {}),
      ...(flags.expires ? { expires_at: expiry(flags.expires) } : {}),
    },
  );
  return out(flags, token, token.token, () =>
    print(`token for ${user} (shown once, id ${token.id}):\n${token.token}\n`),
  );
}

function expiry(value: string): string {
  const days = /^(\d+)d$/.exec(value)?.[1];
  if (days) return new Date(Date.now() + Number(days) * 86_400_000).toISOString();
  if (Number.isNaN(Date.parse(value)))
    throw new UsageError(
      `--expires '${value}' is neither a date nor a number of days`,
      'e.g. --expires 30d or --expires 2027-01-01',
    );
  return new Date(value).toISOString();
}

export async function tokensList(flags: OutFlags & { user?: string }): Promise<number> {
  const client = api();
  const user = flags.user ?? (await me(client)).slug;
  const { tokens } = await client.request<{ tokens: TokenJson[] }>(
    'GET',
    `/users/${encodeURIComponent(user)}/tokens`,
  );
  if (flags.json) printJson({ tokens });
  else if (flags.quiet) for (const t of tokens) print(`${t.id}\n`);
  else if (tokens.length === 0) print(`no tokens for ${user}\n`);
  else
    printTable(
      ['ID', 'NOTE', 'CREATED', 'STATE'],
      tokens.map((t) => [
        t.id,
        t.note,
        t.created_at.slice(0, 16).replace('T', ' '),
        t.revoked_at ? 'revoked' : t.expires_at ? `expires ${t.expires_at.slice(0, 10)}` : 'active',
      ]),
    );
  return 0;
}

export async function tokensRevoke(id: string, flags: OutFlags & { user?: string }): Promise<number> {
  const client = api();
  const user = flags.user ?? (await me(client)).slug;
  await client.request('DELETE', `/users/${encodeURIComponent(user)}/tokens/${encodeURIComponent(id)}`);
  return out(flags, { revoked: id }, id, () => print(`revoked token ${id}\n`));
}

const ROLES = ['viewer', 'contributor', 'developer', 'maintainer', 'admin'];

interface RolesJson {
  subject_roles: { role: string; subject: { slug: string } }[];
}

export async function rolesChange(
  verb: 'grant' | 'revoke',
  user: string,
  role: string,
  flags: OutFlags & { repo?: string },
): Promise<number> {
  if (!ROLES.includes(role))
    throw new UsageError(
      `role '${role}' is not one of ${ROLES.join(', ')}`,
      `conveyor roles ${verb} ${user} developer`,
    );
  const path = `${repoPrefix(flags.repo)}/roles${verb === 'revoke' ? '/remove' : ''}`;
  const got = await api().request<RolesJson>('POST', path, {
    subject_roles: [{ role, subject: { id: user } }],
  });
  return out(flags, got, user, () =>
    print(
      `${verb === 'grant' ? 'granted' : 'revoked'} ${role} ${verb === 'grant' ? 'to' : 'from'} ${user}\n`,
    ),
  );
}

export async function rolesList(flags: OutFlags & { repo?: string }): Promise<number> {
  const got = await api().request<RolesJson>('GET', `${repoPrefix(flags.repo)}/roles`);
  if (flags.json) printJson(got);
  else if (flags.quiet) for (const r of got.subject_roles) print(`${r.subject.slug}\n`);
  else if (got.subject_roles.length === 0)
    print('no roles granted (organization admins and server administrators have every right)\n');
  else
    printTable(
      ['USER', 'ROLE'],
      got.subject_roles.map((r) => [r.subject.slug, r.role]),
    );
  return 0;
}

export async function webhookShow(flags: OutFlags & { repo?: string }): Promise<number> {
  const got = await api().request<{ github_url: string; gitlab_url: string; secret: string }>(
    'GET',
    `${repoPrefix(flags.repo)}/cicd/webhook`,
  );
  return out(flags, got, got.secret, () =>
    print(
      `GitHub:  ${got.github_url}\n         content type application/json, secret below, events: push and pull requests\n` +
        `GitLab:  ${got.gitlab_url}\n         secret token below, triggers: push and merge request events\n` +
        `secret:  ${got.secret}\n`,
    ),
  );
}
