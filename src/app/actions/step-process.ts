import { readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, relative } from 'node:path';
import type { ImageDef } from '../../core/config/model.js';
import { parseEnvFile } from '../../core/run/env-file.js';
import { CommandFilter, type CommandEvent } from '../../core/actions/workflow-commands.js';
import type { CubeExit, CubeProcess, Executor } from '../../ports/executor.js';

/** Where one cube's action processes run and write: what every step shares. */
export interface StepHost {
  native: Executor;
  container?: Executor;
  dataDir: string;
  taskRoot: string;
  workspace: string;
  /** Unique prefix of this cube's helper files. */
  key: string;
  /** Absolute deadline of the cube (max_cube_duration). */
  deadline: number;
  now(): number;
  onProcess(process: CubeProcess): void;
  /** Raw output of a process, after workflow commands were taken out (masking is the host's). */
  write(chunk: Buffer): void;
  /** A line of Conveyor's own in the log. */
  note(text: string): void;
  onCommand(event: CommandEvent): void;
  debug: boolean;
}

export interface StepSpec {
  /** For the log: `main`, `post`, `step 2`, ... */
  label: string;
  /** A bash script for the native executor; or `image` for a container. */
  script?: string;
  image?: ImageDef;
  env: Record<string, string>;
  /** Directories GITHUB_PATH added so far (newest first), put before PATH. */
  path: string[];
}

export interface StepResult {
  exit: CubeExit;
  outputs: Record<string, string>;
  env: Record<string, string>;
  path: string[];
  state: Record<string, string>;
}

const FILES = ['OUTPUT', 'ENV', 'PATH', 'STATE', 'STEP_SUMMARY'] as const;

let counter = 0;

/** Single-quotes a string for bash. */
export function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/**
 * Names bash cannot export (INPUT_NODE-VERSION: action inputs often have hyphens) travel hex-encoded
 * as __CVENV_<hex> and are renamed by a preloaded script before the action's code runs.
 */
export function encodeEnv(env: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) out[name] = value;
    else out[`__CVENV_${Buffer.from(name).toString('hex')}`] = value;
  }
  return out;
}

export const ENV_SHIM = `'use strict';
for (const key of Object.keys(process.env)) {
  if (!key.startsWith('__CVENV_')) continue;
  process.env[Buffer.from(key.slice(8), 'hex').toString()] = process.env[key];
  delete process.env[key];
}
`;

/**
 * Runs one process of an action (a node script, a composite `run` step, a docker entrypoint) with
 * fresh GITHUB_OUTPUT/ENV/PATH/STATE/STEP_SUMMARY files, its workflow commands acted on, and reads
 * the files back when it ends. The step summary is printed to the log, since there is no summary page.
 */
export async function runStepProcess(host: StepHost, spec: StepSpec): Promise<StepResult> {
  const id = `${host.key}-${++counter}`;
  const files = Object.fromEntries(FILES.map((f) => [f, join(host.dataDir, `${id}.${f.toLowerCase()}`)]));
  for (const file of Object.values(files)) writeFileSync(file, '');
  const legacy: { outputs: Record<string, string>; state: Record<string, string> } = {
    outputs: {},
    state: {},
  };
  const filter = new CommandFilter((event) => {
    if (event.kind === 'output') legacy.outputs[event.name] = event.value;
    else if (event.kind === 'state') legacy.state[event.name] = event.value;
    host.onCommand(event);
  }, host.debug);
  const env: Record<string, string> = { ...spec.env };
  for (const f of FILES) env[`GITHUB_${f}`] = files[f] ?? '';
  const remaining = host.deadline - host.now();
  const exit =
    remaining <= 0 ? ({ kind: 'timeout' } as const) : await start(host, spec, env, filter, remaining);
  host.write(filter.end());
  const read = (f: (typeof FILES)[number]) => readText(files[f] ?? '');
  const parsed = {
    output: parseEnvFile(read('OUTPUT')),
    env: parseEnvFile(read('ENV')),
    state: parseEnvFile(read('STATE')),
  };
  for (const [what, p] of Object.entries(parsed))
    for (const error of p.errors) host.note(`$GITHUB_${what.toUpperCase()} ${error}`);
  const summary = read('STEP_SUMMARY').trimEnd();
  if (summary) host.write(Buffer.from(`##[group]Step summary (${spec.label})\n${summary}\n##[endgroup]\n`));
  const path = read('PATH')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .reverse();
  return {
    exit,
    outputs: { ...legacy.outputs, ...parsed.output.values },
    env: parsed.env.values,
    path,
    state: { ...legacy.state, ...parsed.state.values },
  };
}

function start(
  host: StepHost,
  spec: StepSpec,
  env: Record<string, string>,
  filter: CommandFilter,
  timeoutMs: number,
): Promise<CubeExit> {
  const executor = spec.image ? host.container : host.native;
  if (!executor)
    return Promise.resolve({
      kind: 'error',
      message: 'this docker action needs a container runtime (set CONVEYOR_CONTAINER_RUNTIME)',
    });
  const prefix =
    spec.path.length && !spec.image ? `export PATH=${shellQuote(spec.path.join(':'))}:"$PATH"\n` : '';
  const process = executor.start({
    ...(spec.script !== undefined ? { script: prefix + spec.script } : {}),
    ...(spec.image ? { image: spec.image } : {}),
    dataDir: host.dataDir,
    key: `${host.key}-step`,
    env: spec.image ? env : encodeEnv(env),
    taskRoot: host.taskRoot,
    workspace: host.workspace,
    timeoutMs,
    onOutput: (chunk) => host.write(filter.push(chunk)),
  });
  host.onProcess(process);
  return process.done;
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** Whether `path`, symlinks resolved, is inside `root` (also resolved). */
export function within(root: string, path: string): boolean {
  try {
    const rel = relative(realpathSync(root), realpathSync(path));
    return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
  } catch {
    return false;
  }
}
