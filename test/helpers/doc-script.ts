import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CONTAINER_ENV } from './cli.js';
import { tempDir } from './repo.js';

export const CHECKOUT = fileURLToPath(new URL('../../..', import.meta.url)).replace(/\/$/, '');

/** Every ```sh block under the `## ` headings `heading` accepts, in document order. */
export function shellBlocks(markdownFile: string, heading: (title: string) => boolean): string[] {
  const blocks: string[] = [];
  let current = '';
  let inBlock: string[] | undefined;
  for (const line of readFileSync(join(CHECKOUT, markdownFile), 'utf8').split('\n')) {
    if (inBlock) {
      if (line.startsWith('```')) {
        if (heading(current)) blocks.push(inBlock.join('\n'));
        inBlock = undefined;
      } else inBlock.push(line);
      continue;
    }
    if (line.startsWith('## ')) current = line.slice(3).trim();
    else if (line.trim() === '```sh') inBlock = [];
  }
  return blocks;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/**
 * Types `blocks` into one `bash` (stdin, as a person pastes them) with `set -euo pipefail`, in a
 * fresh temp dir and HOME whose git has `defaultBranch`. `/path/to/conveyor` becomes this
 * checkout and port 8080 a free port (in the text and CONVEYOR_PORT: other tests may hold 8080);
 * nothing else is changed. Jobs
 * the blocks started in the background (the server) are ended when bash exits.
 */
export async function typeIntoBash(
  blocks: string[],
  options: { defaultBranch: string; deadlineMs?: number },
): Promise<{ code: number | null; output: string; dir: string }> {
  const dir = tempDir('conveyor-doc-');
  const home = join(dir, 'home');
  mkdirSync(home);
  writeFileSync(
    join(home, '.gitconfig'),
    `[user]\n\tname = Reader\n\temail = reader@example.com\n[init]\n\tdefaultBranch = ${options.defaultBranch}\n`,
  );
  const work = join(dir, 'work');
  mkdirSync(work);
  const port = await freePort();
  const script = blocks
    .map((b) => b.replaceAll('/path/to/conveyor', CHECKOUT).replaceAll('8080', String(port)))
    .join('\n');
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    ...CONTAINER_ENV,
    HOME: home,
  };
  for (const name of Object.keys(env))
    if (/^(CONVEYOR_(SERVER|TOKEN|REPO|ADMIN_TOKEN)|XDG_CONFIG_HOME|GIT_)/.test(name)) delete env[name];
  env.NO_COLOR = '1';
  // The server's default port, moved by its documented variable (the script's 8080s are replaced too).
  env.CONVEYOR_PORT = String(port);
  return new Promise((resolve, reject) => {
    const bash = spawn('bash', ['--noprofile', '--norc'], {
      cwd: work,
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let output = '';
    bash.stdout.on('data', (d: Buffer) => (output += d.toString()));
    bash.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => {
      bash.kill('SIGKILL');
      reject(new Error(`the script did not finish in time; output:\n${output}`));
    }, options.deadlineMs ?? 150_000);
    bash.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output, dir: work });
    });
    bash.stdin.end(`set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null; wait' EXIT\n${script}\n`);
  });
}
