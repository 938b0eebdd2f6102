import { readFileSync } from 'node:fs';
import { ApiClient, loadConfig, repoPrefix } from '../client.js';
import { readHidden, UsageError } from '../output.js';

const print = (text: string) => process.stdout.write(text);

export interface SecretFlags {
  repo?: string;
  org?: string;
  json?: boolean;
}

function secretsBase(flags: SecretFlags): string {
  if (flags.org) return `/orgs/${encodeURIComponent(flags.org)}/cicd/secrets`;
  return `${repoPrefix(flags.repo)}/cicd/secrets`;
}

/** `conveyor secrets set NAME [--value V]`: without --value the value is read from standard input, so it stays out of shell history. */
export async function secretsSet(name: string, flags: SecretFlags & { value?: string }): Promise<number> {
  let value = flags.value;
  if (value === undefined) {
    // On a terminal the value is typed at a hidden prompt, as `gh secret set` does.
    value = process.stdin.isTTY
      ? await readHidden(`value for ${name}: `)
      : readFileSync(0, 'utf8').replace(/\r?\n$/, '');
    if (value === '')
      throw new UsageError(`no value given for ${name}`, `printf %s "$VALUE" | conveyor secrets set ${name}`);
  }
  await new ApiClient(loadConfig()).request('PUT', `${secretsBase(flags)}/${encodeURIComponent(name)}`, {
    value,
  });
  print(flags.json ? `${JSON.stringify({ name, set: true })}\n` : `secret ${name} set\n`);
  return 0;
}

export async function secretsList(flags: SecretFlags): Promise<number> {
  const got = await new ApiClient(loadConfig()).request<{ secrets: { name: string; updated_at: string }[] }>(
    'GET',
    secretsBase(flags),
  );
  if (flags.json) print(`${JSON.stringify(got, null, 2)}\n`);
  else if (got.secrets.length === 0) print('no secrets\n');
  else for (const s of got.secrets) print(`${s.name.padEnd(32)} updated ${s.updated_at}\n`);
  return 0;
}

export async function secretsDelete(name: string, flags: SecretFlags): Promise<number> {
  await new ApiClient(loadConfig()).request('DELETE', `${secretsBase(flags)}/${encodeURIComponent(name)}`);
  print(flags.json ? `${JSON.stringify({ name, deleted: true })}\n` : `secret ${name} deleted\n`);
  return 0;
}
