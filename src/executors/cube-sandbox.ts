import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * The trust boundary between the server and cube code, in one place (docs/security.md).
 *
 * - A cube's environment is built from scratch: PATH, HOME, USER, LANG, SHELL, TMPDIR, the host
 *   variables named in CONVEYOR_PASS_ENV, then the cube's own variables (CI variables, the
 *   config's env, the run's secrets). Nothing else of the server's environment reaches it.
 * - When the server runs as root, native cubes run as an unprivileged user (CONVEYOR_CUBE_USER,
 *   default `conveyor-cube`, created if missing), switched in the forked child before exec and
 *   under `setpriv --no-new-privs`, in a task directory chowned to that user before each process
 *   starts.
 * - The data dir is readable by the server alone (see `lockDataDir`).
 *
 * `conveyor run` (a developer running their own repository's config on their own machine) uses
 * `inherit`: the developer's environment and user, as before.
 */
export interface CubeUser {
  name: string;
  uid: number;
  gid: number;
}

export interface SandboxOptions {
  /** The server's environment: only PATH, LANG, TMPDIR and the CONVEYOR_PASS_ENV names are read. */
  hostEnv: NodeJS.ProcessEnv;
  /** Build the environment from scratch (the server) or inherit the host's (`conveyor run`). */
  isolate: boolean;
  /** Run native cubes as this user (the server as root). */
  user?: CubeUser;
}

/** setpriv (util-linux), found once; without it cubes still switch user, only without no-new-privs. */
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));
const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
export const DEFAULT_CUBE_USER = 'conveyor-cube';

export class CubeSandbox {
  constructor(readonly options: SandboxOptions) {}

  /** `conveyor run`: the developer's own environment and user. */
  static inherit(hostEnv: NodeJS.ProcessEnv = process.env): CubeSandbox {
    return new CubeSandbox({ hostEnv, isolate: false });
  }

  get user(): CubeUser | undefined {
    return this.options.user;
  }

  /** The environment of a native cube process. */
  env(cubeEnv: Record<string, string>, taskRoot: string): Record<string, string> {
    const host = this.options.hostEnv;
    if (!this.options.isolate) return { ...stringsOf(host), ...cubeEnv };
    return { ...this.baseEnv(taskRoot), ...this.passed(), ...cubeEnv };
  }

  /** What every cube process starts from (also the bash launcher's own environment). */
  baseEnv(home: string): Record<string, string> {
    const host = this.options.hostEnv;
    const user = this.options.user?.name ?? host.USER ?? host.LOGNAME ?? 'conveyor';
    return {
      PATH: withNodeDir(host.PATH || DEFAULT_PATH),
      HOME: home,
      USER: user,
      LOGNAME: user,
      LANG: host.LANG || 'C.UTF-8',
      SHELL: '/bin/bash',
      TMPDIR: host.TMPDIR || '/tmp',
    };
  }

  /** The environment of a container runtime's own process (podman/docker): no CONVEYOR_ settings. */
  toolEnv(extra: Record<string, string>): Record<string, string> {
    const host = stringsOf(this.options.hostEnv);
    if (!this.options.isolate) return { ...host, ...extra };
    const out: Record<string, string> = {};
    for (const [key, value] of Object.entries(host)) if (!key.startsWith('CONVEYOR_')) out[key] = value;
    return { ...out, ...extra };
  }

  /** Host variables the operator passes to cubes on purpose (CONVEYOR_PASS_ENV=NAME,NAME). */
  private passed(): Record<string, string> {
    const host = this.options.hostEnv;
    const out: Record<string, string> = {};
    for (const name of (host.CONVEYOR_PASS_ENV ?? '').split(/[\s,]+/).filter(Boolean)) {
      const value = host[name];
      if (value !== undefined) out[name] = value;
    }
    return out;
  }

  /**
   * The command line of a cube process: with a cube user, under `setpriv --no-new-privs` (set-uid
   * programs cannot raise it). It is started with `ids()`: the user switch happens in the forked
   * child before exec, so no program ever runs as root with a cube's environment (LD_PRELOAD...).
   */
  wrap(command: string, args: string[]): { command: string; args: string[] } {
    if (!this.options.user || !SETPRIV) return { command, args };
    return { command: SETPRIV, args: ['--no-new-privs', '--', command, ...args] };
  }

  /** spawn() options that switch to the cube user (none without one). */
  ids(): { uid: number; gid: number } | Record<string, never> {
    const user = this.options.user;
    return user ? { uid: user.uid, gid: user.gid } : {};
  }

  /**
   * Hands the task directory to the cube user before a process starts: files the server wrote
   * since (helper files, GITHUB_* files) become writable by the cube. `chown -R -P` works through
   * directory descriptors and never follows a symbolic link, so a link a cube planted cannot
   * redirect it (hard links to files the cube may not read are refused by fs.protected_hardlinks).
   */
  async adopt(taskRoot: string): Promise<void> {
    const user = this.options.user;
    if (!user) return;
    await run('chown', ['-R', '-P', `${user.uid}:${user.gid}`, '--', taskRoot]);
  }
}

/**
 * The sandbox of a server: environment from scratch, and as root an unprivileged cube user.
 * Returns a warning to print at startup when native cubes share the server's permissions.
 */
export function serverSandbox(hostEnv: NodeJS.ProcessEnv): { sandbox: CubeSandbox; warning?: string } {
  if (process.getuid?.() !== 0) {
    return {
      sandbox: new CubeSandbox({ hostEnv, isolate: true }),
      warning:
        "native cubes run with this server's own user and permissions (it is not root, so it cannot switch to an unprivileged user): a cube can read what this user can. To separate them, run cubes in containers (`image:` with CONVEYOR_CONTAINER_RUNTIME), start the server as root (cubes then run as CONVEYOR_CUBE_USER, default conveyor-cube), or run the server as a user that owns nothing but its data dir. See docs/security.md.",
    };
  }
  const name = hostEnv.CONVEYOR_CUBE_USER || DEFAULT_CUBE_USER;
  return { sandbox: new CubeSandbox({ hostEnv, isolate: true, user: ensureUser(name) }) };
}

/** The cube user's ids, creating a system user without a login shell or home when it is missing. */
export function ensureUser(name: string): CubeUser {
  const ids = (): CubeUser | undefined => {
    try {
      const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8', stdio: 'pipe' }).trim());
      const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8', stdio: 'pipe' }).trim());
      return { name, uid, gid };
    } catch {
      return undefined;
    }
  };
  const found = ids();
  if (found) return refuseRoot(found);
  if (!/^[a-z_][a-z0-9_-]{0,31}$/.test(name))
    throw new Error(`CONVEYOR_CUBE_USER '${name}' is not a valid user name`);
  try {
    execFileSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', name], {
      stdio: 'pipe',
    });
  } catch (error) {
    // Another server on this host may have created it at the same moment.
    if (!ids()) {
      const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim();
      throw new Error(
        `could not create the cube user '${name}' (${stderr || (error as Error).message}); create it yourself (useradd --system ${name}) or set CONVEYOR_CUBE_USER to an existing unprivileged user`,
        { cause: error },
      );
    }
  }
  const created = ids();
  if (!created) throw new Error(`the cube user '${name}' does not exist after useradd`);
  return refuseRoot(created);
}

function refuseRoot(user: CubeUser): CubeUser {
  if (user.uid === 0 || user.gid === 0)
    throw new Error(`CONVEYOR_CUBE_USER '${user.name}' is root; cubes need an unprivileged user`);
  return user;
}

/**
 * Makes the data dir the server's alone: the dir itself 0711 (cubes may pass through it to their
 * workspaces, not list it), the database and secret key 0600, mirrors, logs, artifacts and releases 0700.
 * Action checkouts stay readable: cubes run them.
 */
export function lockDataDir(dataDir: string): void {
  mkdirSync(dataDir, { recursive: true });
  chmodSync(dataDir, 0o711);
  for (const dir of ['mirrors', 'logs', 'artifacts', 'releases']) {
    mkdirSync(join(dataDir, dir), { recursive: true, mode: 0o700 });
    chmodSync(join(dataDir, dir), 0o700);
  }
  for (const name of readdirSync(dataDir)) {
    if (/^(conveyor\.db.*|secret\.key)$/.test(name)) chmodSync(join(dataDir, name), 0o600);
  }
}

/**
 * Where task workspaces live: `<data>/work` when the cube user can reach it (every parent of the
 * data dir searchable by others), else /var/tmp/conveyor-work (a parent such as /root is private).
 */
export function workRoot(dataDir: string, sandbox: CubeSandbox): string {
  const preferred = join(resolve(dataDir), 'work');
  let root = preferred;
  if (sandbox.user && !reachable(resolve(dataDir))) root = '/var/tmp/conveyor-work';
  mkdirSync(root, { recursive: true, mode: 0o711 });
  chmodSync(root, 0o711);
  return root;
}

function reachable(dir: string): boolean {
  for (let at = dirname(dir); ; at = dirname(at)) {
    try {
      if ((statSync(at).mode & 0o001) === 0) return false;
    } catch {
      return false;
    }
    if (dirname(at) === at) return true;
  }
}

/** Node actions run with the server's node; its directory goes on PATH after the host's. */
function withNodeDir(path: string): string {
  const dir = dirname(process.execPath);
  return path.split(':').includes(dir) ? path : `${path}:${dir}`;
}

function stringsOf(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) if (value !== undefined) out[key] = value;
  return out;
}
