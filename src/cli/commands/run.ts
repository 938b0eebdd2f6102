import { rmSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, isAbsolute, join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import pc from 'picocolors';
import { CONFIG_PATHS, loadConfig } from '../../app/load-config.js';
import { startLocalRun } from '../../app/run-local.js';
import type { EngineListener } from '../../app/run-engine.js';
import { parseEnvFile } from '../../core/run/env-file.js';
import { LogMasker } from '../../core/run/mask.js';
import { killAllGroups } from '../../executors/process-group.js';
import { runJson } from '../../transport/run-json.js';
import { findRepo, readHeadCommit } from '../../workspace/git.js';
import { WorkingTreeWorkspaces } from '../../workspace/working-tree-workspaces.js';
import { composeLocal } from '../compose-local.js';
import { parseConnectionFlags, writeLocalIssuer } from '../local-connections.js';
import { parseAssignments, printDiagnostics, UsageError, whenOutputCloses } from '../output.js';
import { LiveTree } from '../render/live-tree.js';
import { LogLines } from '../render/log-lines.js';
import { PlainLines } from '../render/plain-lines.js';
import { printSummary } from '../render/summary.js';

export interface RunFlags {
  dir?: string;
  workflow: string[];
  input: string[];
  secret: string[];
  secretsFile?: string;
  json?: boolean;
  artifactsDir?: string;
  parallel?: string;
  keepWorkspaces?: boolean;
  logs?: boolean;
  serviceConnection: string[];
}

/** `conveyor run`: executes the repository's pipeline on this machine. Returns the exit code. */
export async function runCommand(flags: RunFlags): Promise<number> {
  const dir = resolve(flags.dir ?? '.');
  if (!(await stat(dir).catch(() => undefined))?.isDirectory())
    throw new UsageError(`${dir} is not a directory`, 'pass the repository with -C DIR');
  const repo = await findRepo(dir);
  const top = repo?.top;
  const root = top ?? dir;
  const loaded = await loadConfig(root);
  if (!loaded)
    throw new UsageError(
      `no pipeline config in ${root}`,
      `create ${CONFIG_PATHS[0]} (or ${CONFIG_PATHS[2]}); \`conveyor validate\` checks it`,
    );
  printDiagnostics(loaded.diagnostics);
  if (!loaded.config) return 2;
  const inputs = parseAssignments(flags.input, '--input');
  const secrets = {
    ...(await readSecretsFile(flags.secretsFile)),
    ...parseAssignments(flags.secret, '--secret'),
  };
  const parallelism = flags.parallel === undefined ? undefined : Number(flags.parallel);
  if (parallelism !== undefined && !(Number.isInteger(parallelism) && parallelism > 0))
    throw new UsageError(`--parallel '${flags.parallel}' is not a positive whole number`);

  const stateDir = repo ? resolve(repo.commonDir, 'conveyor') : resolve(root, '.conveyor/state');
  const artifactsDir = resolve(root, flags.artifactsDir ?? '.conveyor/artifacts');
  const baseDir = await mkdtemp(resolve(tmpdir(), 'conveyor-run-'));
  const exclude = [artifactsDir, stateDir]
    .map((p) => relative(root, p))
    .filter((p) => p && !p.startsWith('..') && !isAbsolute(p));
  const workspaces = new WorkingTreeWorkspaces({
    sourceDir: root,
    isGit: top !== undefined,
    baseDir,
    keep: !!flags.keepWorkspaces,
    exclude,
  });
  const repoPath = `local/${basename(root)}`;
  const byName = parseConnectionFlags(flags.serviceConnection ?? [], Date.now());
  const deps = await composeLocal({
    stateDir,
    artifactsDir,
    workspaces,
    ...(parallelism ? { parallelism } : {}),
    ...(Object.keys(byName).length ? { connections: { byName, repoPath } } : {}),
  });
  try {
    await ignoreInGit([artifactsDir, ...(repo ? [] : [stateDir])]);
    const listener = pickListener(flags, new LogMasker(Object.values(secrets)));
    const started = await startLocalRun(
      deps,
      {
        config: loaded.config,
        repoId: `local:${root}`,
        workflows: flags.workflow,
        inputs,
        secrets,
        ...(repo ? { commit: await readHeadCommit(repo.top, repo.headRef) } : {}),
        repoUrl: pathToFileURL(root).href,
        repoPath,
        connections: Object.keys(byName),
      },
      listener,
    );
    if (!('engine' in started)) {
      for (const e of started.errors)
        process.stderr.write(
          `${pc.red('error')}: ${e.workflow ? `workflow '${e.workflow}': ` : ''}${e.message}\n`,
        );
      return 2;
    }
    const { engine } = started;
    const stopSignals = handleSignals(
      (signal) => engine.cancel(`canceled by ${signal}`),
      (text) => (listener instanceof LiveTree ? listener.note(text) : process.stderr.write(`${text}\n`)),
      // The second signal exits at once: the task directories go with it, as on a normal end.
      () => flags.keepWorkspaces || rmSync(baseDir, { recursive: true, force: true, maxRetries: 3 }),
    );
    // Piped into `head`: nobody reads any more; the run is canceled and cleaned up, quietly.
    whenOutputCloses(() => {
      const drop = ((_chunk: unknown, encOrCb?: unknown, cb?: unknown) => {
        const done = typeof encOrCb === 'function' ? encOrCb : cb;
        if (typeof done === 'function') (done as () => void)();
        return true;
      }) as typeof process.stdout.write;
      process.stdout.write = drop;
      engine.cancel('the output was closed (piped into a program that stopped reading)');
    });
    if (listener instanceof LiveTree) listener.start(started.run);
    let run;
    try {
      run = await engine.execute();
    } finally {
      stopSignals();
      if (listener instanceof LiveTree) listener.stop();
    }
    const masker = new LogMasker(Object.values(secrets));
    if (flags.json) {
      const json = runJson(run, { artifactUrl: (a) => a.location, mask: (t) => masker.maskText(t) });
      process.stdout.write(JSON.stringify(json, null, 2) + '\n');
    } else {
      await printSummary(run, deps.logs, process.stdout, relative(process.cwd(), artifactsDir) || '.');
    }
    if (deps.issuer) {
      const jwks = await writeLocalIssuer(stateDir, deps.issuer);
      if (!flags.json)
        process.stderr.write(
          pc.dim(`Id tokens were signed by this repository's local key; verify them with ${jwks}\n`),
        );
    }
    if (flags.keepWorkspaces && !flags.json)
      process.stderr.write(pc.dim(`Task directories kept in ${baseDir}\n`));
    return run.status === 'success' ? 0 : 1;
  } finally {
    deps.native.close?.();
    deps.container?.close?.();
    await deps.store.close();
    if (!flags.keepWorkspaces) await rm(baseDir, { recursive: true, force: true });
  }
}

/** Run output kept in the working tree must not show in `git status`: a `.gitignore` of `*` in each dir. */
async function ignoreInGit(dirs: string[]): Promise<void> {
  for (const dir of dirs) {
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, '.gitignore'), '# written by conveyor run: these files are not source\n*\n', {
      flag: 'wx',
    }).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error;
    });
  }
}

function pickListener(flags: RunFlags, masker: LogMasker): EngineListener {
  if (flags.json) return {};
  if (flags.logs) return new LogLines(process.stdout, (t) => masker.maskText(t));
  if (process.stdout.isTTY) return new LiveTree(process.stdout);
  return new PlainLines(process.stdout);
}

async function readSecretsFile(file: string | undefined): Promise<Record<string, string>> {
  if (!file) return {};
  const text = await readFile(file, 'utf8').catch((error: Error) => {
    throw new UsageError(`cannot read secrets file ${file}: ${error.message}`);
  });
  // Comment lines become blank ones, so line numbers in errors stay those of the file.
  const parsed = parseEnvFile(text.replace(/^[ \t]*#.*$/gm, ''));
  const bad = parsed.errors[0];
  // The parser quotes the offending line; here that line may hold a secret, so only its number is shown.
  if (bad !== undefined)
    throw new UsageError(
      `secrets file ${file}: ${/^line \d+/.exec(bad)?.[0] ?? 'a line'} is not NAME=VALUE`,
      'write one NAME=VALUE per line (NAME<<EOF ... EOF for multi-line values, # for comments)',
    );
  return parsed.values;
}

/** First SIGINT/SIGTERM cancels the run gracefully; a second one ends everything at once. */
function handleSignals(
  cancel: (signal: string) => void,
  say: (text: string) => void,
  cleanUpNow: () => void,
): () => void {
  let count = 0;
  const handler = (signal: NodeJS.Signals): void => {
    count++;
    if (count === 1) {
      say(pc.yellow(`${signal}: canceling the run (again to stop at once)…`));
      cancel(signal);
      return;
    }
    killAllGroups();
    try {
      cleanUpNow();
    } finally {
      process.exit(130);
    }
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  process.on('exit', killAllGroups);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}
