import { execFileSync } from 'node:child_process';

/**
 * A second "host" for tests: a network namespace joined to the root namespace by a veth pair, on
 * a private /30 of 10.0.0.0/8 chosen from the test process's pid (so concurrent test runs never
 * share addresses or names). The root side is `hostAddress`, the namespace side `guestAddress`;
 * a process started with `exec` (`ip netns exec NAME …`) only reaches the root namespace over
 * that link.
 *
 * `cut()` drops every packet in both directions without a word: each end's qdisc becomes a pfifo
 * of length 0 (this kernel has no netem or tc actions, and no iptables). Links stay up and
 * routes stay in place, so neither side sees an error, a FIN or an RST: TCP just retransmits
 * into the void, as over a broken network. `restore()` puts the default qdisc back.
 */
export interface NetNamespace {
  name: string;
  hostAddress: string;
  guestAddress: string;
  /** Prefix for spawning a command inside the namespace. */
  exec: string[];
  cut(): void;
  restore(): void;
  remove(): void;
}

const PREFIX = 'cvnt';
let counter = 0;

function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the namespaces and links of test processes that died without cleaning up (named
 * `cvnt<pid>…`); those of live processes (another test run at the same time) stay.
 */
export function removeStaleNamespaces(): void {
  const names = ip('netns', 'list')
    .split('\n')
    .map((line) => line.split(' ')[0] ?? '')
    .filter((name) => name.startsWith(PREFIX));
  const links = ip('-o', 'link', 'show')
    .split('\n')
    .map((line) => /^\d+:\s+([^@:\s]+)/.exec(line)?.[1] ?? '')
    .filter((name) => name.startsWith(PREFIX));
  for (const name of [...names, ...links]) {
    const pid = Number(/^cvnt(\d+)/.exec(name)?.[1]);
    if (!Number.isInteger(pid) || pid === process.pid || alive(pid)) continue;
    try {
      if (names.includes(name)) ip('netns', 'delete', name);
      else ip('link', 'delete', name);
    } catch {
      // gone already (deleting a namespace takes its end of the pair with it)
    }
  }
}

/** Creates a namespace and its veth pair; call `remove()` in an after hook. */
export function createNetNamespace(): NetNamespace {
  removeStaleNamespaces();
  const n = counter++;
  // 2^22 blocks of 4 addresses in 10.0.0.0/8: one per (pid, counter) for 4 namespaces a process.
  const block = (process.pid * 4 + (n % 4)) % (1 << 22);
  const base = block * 4;
  const address = (offset: number) =>
    `10.${(base >> 16) & 255}.${(base >> 8) & 255}.${(base & 255) + offset}`;
  const name = `${PREFIX}${process.pid}n${n}`;
  const host = `${PREFIX}${process.pid}h${n}`;
  const guest = `${PREFIX}${process.pid}g${n}`;
  const hostAddress = address(1);
  const guestAddress = address(2);
  const inside = (...args: string[]) => ip('netns', 'exec', name, 'ip', ...args);
  const tc = (inNamespace: boolean, ...args: string[]) =>
    execFileSync(inNamespace ? 'ip' : 'tc', inNamespace ? ['netns', 'exec', name, 'tc', ...args] : args, {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  let removed = false;
  const remove = () => {
    if (removed) return;
    removed = true;
    try {
      ip('netns', 'delete', name);
    } catch {
      // not created
    }
    try {
      ip('link', 'delete', host);
    } catch {
      // went with the namespace
    }
  };
  try {
    ip('netns', 'add', name);
    ip('link', 'add', host, 'type', 'veth', 'peer', 'name', guest);
    ip('link', 'set', guest, 'netns', name);
    ip('addr', 'add', `${hostAddress}/30`, 'dev', host);
    ip('link', 'set', host, 'up');
    inside('addr', 'add', `${guestAddress}/30`, 'dev', guest);
    inside('link', 'set', guest, 'up');
    inside('link', 'set', 'lo', 'up');
  } catch (error) {
    remove();
    throw error;
  }
  let isCut = false;
  return {
    name,
    hostAddress,
    guestAddress,
    exec: ['ip', 'netns', 'exec', name],
    cut: () => {
      if (isCut) return;
      tc(false, 'qdisc', 'add', 'dev', host, 'root', 'pfifo', 'limit', '0');
      tc(true, 'qdisc', 'add', 'dev', guest, 'root', 'pfifo', 'limit', '0');
      isCut = true;
    },
    restore: () => {
      if (!isCut) return;
      tc(false, 'qdisc', 'del', 'dev', host, 'root');
      tc(true, 'qdisc', 'del', 'dev', guest, 'root');
      isCut = false;
    },
    remove,
  };
}
