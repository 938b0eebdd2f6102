import { readFileSync } from 'node:fs';
import { ApiClient, clearConfig, configFile, loadConfig, saveConfig } from '../client.js';
import { printJson, readHidden, UnreachableError, UsageError } from '../output.js';

const print = (text: string) => process.stdout.write(text);

interface Me {
  slug: string;
  email: string;
  admin: boolean;
}

/**
 * `conveyor login`: the token from --token, else standard input when it is not a terminal, else a
 * hidden prompt; checked against the server, then stored with the server URL in the config dir.
 */
export async function loginCommand(flags: {
  server?: string;
  token?: string;
  json?: boolean;
}): Promise<number> {
  const given = flags.server ?? process.env.CONVEYOR_SERVER;
  if (!given)
    throw new UsageError(
      'give the server with --server URL',
      'e.g. conveyor login --server http://127.0.0.1:8080',
    );
  const server = normalizeServer(given);
  let token = flags.token;
  if (token === undefined) {
    token = process.stdin.isTTY ? await readHidden(`token for ${server}: `) : readFileSync(0, 'utf8').trim();
  }
  if (!token)
    throw new UsageError(
      'no token given',
      'paste it at the prompt, pipe it on standard input, or pass --token',
    );
  const me = await new ApiClient({ server, token }).request<Me>('GET', '/user');
  const file = saveConfig({ server, token });
  if (flags.json) printJson({ server, user: me.slug, config: file });
  else print(`logged in to ${server} as ${me.slug}${me.admin ? ' (administrator)' : ''}; saved to ${file}\n`);
  return 0;
}

/** A server URL with its scheme (http:// when none is given) and no trailing slash. */
export function normalizeServer(value: string): string {
  const withScheme = /^[a-z]+:\/\//i.test(value) ? value : `http://${value}`;
  try {
    return new URL(withScheme).href.replace(/\/+$/, '');
  } catch {
    throw new UsageError(`'${value}' is not a server URL`, 'e.g. --server http://127.0.0.1:8080');
  }
}

export function logoutCommand(flags: { json?: boolean }): number {
  const removed = clearConfig();
  if (flags.json) printJson({ logged_out: removed });
  else print(removed ? `logged out; removed ${configFile()}\n` : 'not logged in\n');
  return 0;
}

export async function whoamiCommand(flags: { json?: boolean }): Promise<number> {
  const me = await new ApiClient(loadConfig()).request<Me>('GET', '/user');
  if (flags.json) printJson(me);
  else print(`${me.slug}${me.admin ? ' (administrator)' : ''}\n`);
  return 0;
}

/** `auth status`: where the CLI points, where that came from, and whether the token works. */
export async function authStatusCommand(flags: { json?: boolean }): Promise<number> {
  const config = loadConfig();
  const source = process.env.CONVEYOR_TOKEN ? 'CONVEYOR_TOKEN' : configFile();
  const me = await new ApiClient(config).request<Me>('GET', '/user');
  if (flags.json) printJson({ server: config.server, user: me.slug, admin: me.admin, token_from: source });
  else
    print(
      `${config.server}\n  logged in as ${me.slug}${me.admin ? ' (administrator)' : ''}\n  token from ${source}\n`,
    );
  return 0;
}

/** `ping`: whether the server answers; with --wait, retries until it does (or the deadline passes). */
export async function pingCommand(flags: {
  server?: string;
  wait?: boolean;
  timeout?: string;
  json?: boolean;
}): Promise<number> {
  const server = flags.server ? normalizeServer(flags.server) : loadConfig({ ...process.env }, false).server;
  const timeoutS = Number(flags.timeout ?? 30);
  if (!(timeoutS > 0))
    throw new UsageError(`--timeout '${flags.timeout}' is not a positive number of seconds`);
  const deadline = Date.now() + timeoutS * 1000;
  for (;;) {
    const started = Date.now();
    try {
      const response = await fetch(`${server}/healthz`);
      if (response.ok) {
        const ms = Date.now() - started;
        if (flags.json) printJson({ server, ok: true, ms });
        else print(`${server} is up (${ms} ms)\n`);
        return 0;
      }
    } catch {
      // not up yet
    }
    if (!flags.wait || Date.now() > deadline)
      throw new UnreachableError(
        `${server} does not answer${flags.wait ? ` after ${timeoutS} s` : ''}`,
        flags.wait
          ? 'is the server starting? see its output'
          : 'start it with `conveyor server`, or wait for it: conveyor ping --wait',
      );
    await new Promise((r) => setTimeout(r, 100));
  }
}
