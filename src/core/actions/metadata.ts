import { parse } from 'yaml';

/** The node versions `runs.using` may name; all run with the Node.js that runs Conveyor. */
export const NODE_RUNTIMES = ['node12', 'node16', 'node20', 'node24'] as const;

export interface ActionInput {
  description?: string;
  default?: string;
  required: boolean;
  deprecationMessage?: string;
}

export interface CompositeStep {
  id?: string;
  name?: string;
  if?: string;
  run?: string;
  shell?: string;
  uses?: string;
  with: Record<string, string>;
  env: Record<string, string>;
  workingDirectory?: string;
  continueOnError: boolean | string;
}

export type ActionRuns =
  | {
      using: 'node';
      version: string;
      main: string;
      pre?: string;
      post?: string;
      preIf?: string;
      postIf?: string;
    }
  | { using: 'composite'; steps: CompositeStep[] }
  | {
      using: 'docker';
      image: string;
      entrypoint?: string;
      preEntrypoint?: string;
      postEntrypoint?: string;
      preIf?: string;
      postIf?: string;
      args: string[];
      env: Record<string, string>;
    };

export interface ActionMeta {
  name: string;
  inputs: Record<string, ActionInput>;
  /** Output name -> `value` expression (composite actions declare them; others may only describe). */
  outputs: Record<string, { value?: string }>;
  runs: ActionRuns;
}

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** YAML scalars as GitHub reads them: numbers and booleans become their text. */
function text(v: unknown, what: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw new Error(`${what} must be a string`);
}

function textMap(v: unknown, what: string): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (!isObj(v)) throw new Error(`${what} must be a mapping`);
  const out: Record<string, string> = {};
  for (const [k, value] of Object.entries(v)) out[k] = text(value, `${what}.${k}`) ?? '';
  return out;
}

/** Parses `action.yml`; throws an Error saying what is wrong (the caller adds which action). */
export function parseActionMeta(source: string): ActionMeta {
  let doc: unknown;
  try {
    doc = parse(source);
  } catch (error) {
    throw new Error(
      `action.yml is not valid YAML: ${error instanceof Error ? error.message.split('\n')[0] : ''}`,
      { cause: error },
    );
  }
  if (!isObj(doc)) throw new Error('action.yml must be a mapping');
  const inputs: Record<string, ActionInput> = {};
  for (const [name, raw] of Object.entries(isObj(doc.inputs) ? doc.inputs : {})) {
    const def = isObj(raw) ? raw : {};
    const input: ActionInput = { required: def.required === true || def.required === 'true' };
    const dflt = text(def.default, `inputs.${name}.default`);
    if (dflt !== undefined) input.default = dflt;
    const description = text(def.description, `inputs.${name}.description`);
    if (description !== undefined) input.description = description;
    const deprecation = text(def.deprecationMessage, `inputs.${name}.deprecationMessage`);
    if (deprecation !== undefined) input.deprecationMessage = deprecation;
    inputs[name] = input;
  }
  const outputs: Record<string, { value?: string }> = {};
  for (const [name, raw] of Object.entries(isObj(doc.outputs) ? doc.outputs : {})) {
    const value = isObj(raw) ? text(raw.value, `outputs.${name}.value`) : undefined;
    outputs[name] = value === undefined ? {} : { value };
  }
  if (!isObj(doc.runs)) throw new Error('action.yml has no runs: section');
  return { name: text(doc.name, 'name') ?? '', inputs, outputs, runs: parseRuns(doc.runs) };
}

function parseRuns(runs: Obj): ActionRuns {
  const using = (text(runs.using, 'runs.using') ?? '').toLowerCase();
  const opt = (key: string) => text(runs[key], `runs.${key}`);
  if ((NODE_RUNTIMES as readonly string[]).includes(using)) {
    const main = opt('main');
    if (!main) throw new Error(`runs.main is missing (a ${using} action needs its script)`);
    return compact({
      using: 'node',
      version: using,
      main,
      pre: opt('pre'),
      post: opt('post'),
      preIf: opt('pre-if'),
      postIf: opt('post-if'),
    });
  }
  if (using === 'composite') {
    if (!Array.isArray(runs.steps)) throw new Error('runs.steps of a composite action must be a list');
    return { using: 'composite', steps: runs.steps.map((s, i) => parseStep(s, i)) };
  }
  if (using === 'docker') {
    const image = opt('image');
    if (!image) throw new Error('runs.image is missing (Dockerfile or docker://image)');
    const args = runs.args === undefined ? [] : runs.args;
    if (!Array.isArray(args)) throw new Error('runs.args must be a list');
    return compact({
      using: 'docker',
      image,
      entrypoint: opt('entrypoint'),
      preEntrypoint: opt('pre-entrypoint'),
      postEntrypoint: opt('post-entrypoint'),
      preIf: opt('pre-if'),
      postIf: opt('post-if'),
      args: args.map((a, i) => text(a, `runs.args[${i}]`) ?? ''),
      env: textMap(runs.env, 'runs.env'),
    });
  }
  throw new Error(
    `runs.using '${using}' is not supported: use ${NODE_RUNTIMES.join(', ')}, composite or docker`,
  );
}

function parseStep(raw: unknown, index: number): CompositeStep {
  const where = `runs.steps[${index}]`;
  if (!isObj(raw)) throw new Error(`${where} must be a mapping`);
  const run = text(raw.run, `${where}.run`);
  const uses = text(raw.uses, `${where}.uses`);
  if ((run === undefined) === (uses === undefined))
    throw new Error(`${where} needs exactly one of run and uses`);
  const shell = text(raw.shell, `${where}.shell`);
  if (run !== undefined && !shell)
    throw new Error(`${where} has run: but no shell: (composite steps must name it)`);
  const coe = raw['continue-on-error'];
  return compact({
    id: text(raw.id, `${where}.id`),
    name: text(raw.name, `${where}.name`),
    if: text(raw.if, `${where}.if`),
    run,
    shell,
    uses,
    with: textMap(raw.with, `${where}.with`),
    env: textMap(raw.env, `${where}.env`),
    workingDirectory: text(raw['working-directory'], `${where}.working-directory`),
    continueOnError: typeof coe === 'string' ? coe : coe === true,
  });
}

function compact<T extends object>(obj: T): T {
  for (const key of Object.keys(obj) as (keyof T)[]) if (obj[key] === undefined) delete obj[key];
  return obj;
}
