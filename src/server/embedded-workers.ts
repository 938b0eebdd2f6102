import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { hashToken, newToken } from '../app/secret-box.js';
import type { Clock } from '../ports/clock.js';
import type { WorkerStore } from '../ports/worker-store.js';
import { cubeBaseEnvironment } from '../worker/cube-env.js';

export interface EmbeddedWorkerOptions {
  count: number;
  /** Tasks at once per worker, and cubes at once per task. */
  slots: number;
  parallelism: number;
  /** Work dirs go under here (`embedded-<n>`), where the cube user can reach them. */
  workRoot: string;
  /** This replica's name: the workers' names and their token's note derive from it. */
  owner: string;
  store: WorkerStore;
  clock: Clock;
  env: NodeJS.ProcessEnv;
  log: (message: string) => void;
}

/** The CLI this module belongs to: the bundle (dist/conveyor.mjs) or the compiled tree (dist/src). */
function cliEntry(): string {
  for (const name of ['../cli/main.js', './conveyor.mjs']) {
    const path = fileURLToPath(new URL(name, import.meta.url));
    if (existsSync(path)) return path;
  }
  throw new Error('the conveyor CLI to start embedded workers with was not found next to the server');
}

/**
 * `conveyor server --embedded-workers N`: N `conveyor worker` child processes on loopback, so that
 * every task of a server run goes through the worker protocol (docs/workers.md). Their token is
 * minted at each start, stored hashed like any worker token, and handed over on the child's stdin:
 * it is never printed, never on a command line or in an environment (cubes could read those). The
 * server keeps the other end of stdin; when the server dies, even by kill -9, the pipe closes and
 * the worker ends its tasks' processes and exits.
 */
export class EmbeddedWorkers {
  private readonly children: { name: string; child: ChildProcess; exited: Promise<void> }[] = [];
  private tokenId: string | undefined;

  constructor(private readonly o: EmbeddedWorkerOptions) {}

  get names(): string[] {
    return this.children.map((c) => c.name);
  }

  /** Whether `name` is one of this replica's embedded workers, of this start or an earlier one. */
  owns(name: string): boolean {
    const tag = createHash('sha256').update(this.o.owner).digest('hex').slice(0, 6);
    return new RegExp(`^embedded-\\d+-${tag}$`).test(name);
  }

  /** Starts the workers against `url`; resolves once each has registered. */
  async start(url: string): Promise<void> {
    if (this.o.count <= 0) return;
    const token = `cvw_${newToken()}`;
    const note = `embedded workers of ${this.o.owner}`;
    const now = this.o.clock.now();
    // The previous life's token dies with it: only this start's workers may use one.
    for (const old of await this.o.store.listTokens())
      if (old.note === note && old.revokedAt === undefined) await this.o.store.revokeToken(old.id, now);
    this.tokenId = randomUUID();
    await this.o.store.insertToken(
      { id: this.tokenId, note, createdAt: now, createdBy: 'conveyor-server' },
      hashToken(token),
    );
    const tag = createHash('sha256').update(this.o.owner).digest('hex').slice(0, 6);
    const entry = cliEntry();
    const started = [];
    for (let i = 1; i <= this.o.count; i++)
      started.push(this.spawn(entry, `embedded-${i}-${tag}`, i, url, token));
    await Promise.all(started);
  }

  private spawn(entry: string, name: string, index: number, url: string, token: string): Promise<void> {
    const { o } = this;
    const args = [entry, 'worker', '--embedded', '--server', url, '--name', name];
    args.push('--slots', String(o.slots), '--parallelism', String(o.parallelism));
    args.push('--work-dir', join(o.workRoot, `embedded-${index}`));
    // What the worker itself needs, nothing of the server's secrets (an environment is readable
    // in /proc by processes of the same user for the life of the process).
    const child = spawn(process.execPath, args, {
      env: cubeBaseEnvironment(o.env),
      stdio: ['pipe', 'pipe', 'pipe'],
      // Its own process group: a Ctrl-C or a signal to the server's group reaches the server, which
      // drains its workers itself; the stdin pipe ends them when the server dies.
      detached: true,
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    this.children.push({ name, child, exited });
    child.stdin.on('error', () => undefined);
    child.stdin.write(`${token}\n`);
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`embedded worker ${name} did not connect within 30 s`)),
        30_000,
      );
      createInterface({ input: child.stdout }).on('line', (line) => {
        if (/ connected to /.test(line)) {
          clearTimeout(timer);
          resolve();
        }
      });
      createInterface({ input: child.stderr }).on('line', (line) => o.log(`${name}: ${line}`));
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`embedded worker ${name} exited (${signal ?? code ?? '?'}) before it connected`));
        o.log(`embedded worker ${name} exited (${signal ?? `code ${code ?? '?'}`})`);
      });
    });
  }

  /**
   * Drains the workers (SIGTERM: no new task, running ones finish within their grace period) and
   * waits for them to exit; what is left after `graceMs` more is killed.
   */
  async stop(graceMs: number): Promise<void> {
    for (const { child } of this.children) if (child.exitCode === null) child.kill('SIGTERM');
    const all = Promise.all(this.children.map((c) => c.exited));
    const timer = setTimeout(() => {
      for (const { child } of this.children) if (child.exitCode === null) child.kill('SIGKILL');
    }, graceMs);
    await all;
    clearTimeout(timer);
    for (const { child } of this.children) child.stdin?.destroy();
    if (this.tokenId) await this.o.store.revokeToken(this.tokenId, this.o.clock.now()).catch(() => false);
  }
}
