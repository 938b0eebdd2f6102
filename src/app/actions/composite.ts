import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import {
  evaluateCondition,
  ExprError,
  interpolate,
  truthy,
  evaluateExpression,
  type Value,
} from '../../core/actions/expr.js';
import type { CompositeStep } from '../../core/actions/metadata.js';
import type { ActionRun, LoadedAction } from './run-action.js';
import { shellQuote } from './step-process.js';

interface StepRecord {
  outputs: Record<string, string>;
  outcome: 'success' | 'failure' | 'skipped';
  conclusion: 'success' | 'failure' | 'skipped';
}

/**
 * A composite action: its steps in order, each `run` (with its `shell`) or `uses` of another
 * action, with `if`, `env`, `with`, `working-directory`, `continue-on-error` and `id` as GitHub has
 * them. The action's outputs are its declared `outputs.*.value`, evaluated after the last step.
 */
export async function runComposite(
  rt: ActionRun,
  action: LoadedAction,
  inputs: Record<string, string>,
  stepEnv: Record<string, string>,
  depth: number,
): Promise<Record<string, string> | undefined> {
  const runs = action.meta.runs;
  if (runs.using !== 'composite') return undefined;
  const steps: Record<string, StepRecord> = {};
  for (const [index, step] of runs.steps.entries()) {
    if (rt.stopped) break;
    const record = await runStep(rt, action, inputs, steps, stepEnv, step, index, depth).catch(
      (error: unknown) => {
        if (!(error instanceof ExprError)) throw error;
        rt.fail(`${action.label} step ${index + 1}: ${error.message}`);
        return undefined;
      },
    );
    if (!record) break;
    steps[step.id ?? `__${index}`] = record;
  }
  const ctx = rt.context(action, inputs, steps as unknown as Record<string, Value>);
  const outputs: Record<string, string> = {};
  try {
    for (const [name, def] of Object.entries(action.meta.outputs))
      outputs[name] = def.value === undefined ? '' : interpolate(def.value, ctx);
  } catch (error) {
    return rt.fail(`${action.label} outputs: ${error instanceof Error ? error.message : String(error)}`);
  }
  return outputs;
}

async function runStep(
  rt: ActionRun,
  action: LoadedAction,
  inputs: Record<string, string>,
  steps: Record<string, StepRecord>,
  outerEnv: Record<string, string>,
  step: CompositeStep,
  index: number,
  depth: number,
): Promise<StepRecord> {
  const ctx = rt.context(action, inputs, steps as unknown as Record<string, Value>);
  const label = `${action.label} step ${index + 1}${step.name ? ` (${interpolate(step.name, ctx)})` : ''}`;
  if (!evaluateCondition(step.if, ctx, 'success()')) {
    rt.host.note(`${label}: skipped (if: ${step.if ?? 'success()'})`);
    return { outputs: {}, outcome: 'skipped', conclusion: 'skipped' };
  }
  const env = { ...outerEnv };
  for (const [k, v] of Object.entries(step.env)) env[k] = interpolate(v, ctx);
  const before = rt.status;
  const failureBefore = { message: rt.failure, code: rt.failedCode };
  let outputs: Record<string, string> = {};
  if (step.run !== undefined) {
    const script = shellScript(
      rt,
      interpolate(step.run, ctx),
      step.shell ?? 'bash',
      step.workingDirectory,
      ctx,
    );
    if (script === undefined) return { outputs, outcome: 'failure', conclusion: 'failure' };
    const result = await rt.process({
      label: `run ${label}`,
      script,
      env: { ...rt.baseEnv(), GITHUB_ACTION_PATH: action.dir, ...env },
      path: rt.pathAdds,
    });
    outputs = result.outputs;
    if (result.exit.kind === 'exited' && result.exit.code !== 0) rt.status = 'failure';
  } else if (step.uses !== undefined) {
    const withValues: Record<string, string> = {};
    for (const [k, v] of Object.entries(step.with)) withValues[k] = interpolate(v, ctx);
    outputs = (await rt.runAction(interpolate(step.uses, ctx), withValues, env, depth + 1)) ?? {};
  }
  const failed = rt.status !== 'success' && before === 'success';
  const outcome = failed ? 'failure' : 'success';
  const tolerate =
    typeof step.continueOnError === 'string'
      ? truthy(evaluateExpression(unwrap(step.continueOnError), ctx))
      : step.continueOnError;
  if (failed && tolerate && !rt.stopped) {
    rt.host.note(`${label} failed; continue-on-error lets the action go on`);
    rt.status = 'success';
    rt.failure = failureBefore.message;
    rt.failedCode = failureBefore.code;
    return { outputs, outcome, conclusion: 'success' };
  }
  return { outputs, outcome, conclusion: outcome };
}

function unwrap(text: string): string {
  return /^\s*\$\{\{([\s\S]*)\}\}\s*$/.exec(text)?.[1] ?? text;
}

/** GitHub's shells for `run:` steps: the script goes to a file in RUNNER_TEMP, the shell runs it. */
const SHELLS: Record<string, { command: string; ext: string }> = {
  bash: { command: 'bash --noprofile --norc -eo pipefail {0}', ext: '.sh' },
  sh: { command: 'sh -e {0}', ext: '.sh' },
  python: { command: 'python3 {0}', ext: '.py' },
  pwsh: { command: 'pwsh -command . {0}', ext: '.ps1' },
};

function shellScript(
  rt: ActionRun,
  body: string,
  shell: string,
  workingDirectory: string | undefined,
  ctx: Parameters<typeof interpolate>[1],
): string | undefined {
  const known = SHELLS[shell.trim()];
  if (!known && !shell.includes('{0}')) {
    rt.fail(`shell '${shell}' is not supported: use bash, sh, python, pwsh or a command with {0}`);
    return undefined;
  }
  const file = join(rt.vars.temp, `${randomUUID()}${known?.ext ?? ''}`);
  writeFileSync(file, body);
  const command = known
    ? known.command.replace('{0}', shellQuote(file))
    : shell.replace('{0}', shellQuote(file));
  const cwd = workingDirectory === undefined ? undefined : interpolate(workingDirectory, ctx);
  const dir = cwd === undefined ? undefined : isAbsolute(cwd) ? cwd : join(rt.req.place.dirs.workspace, cwd);
  return `${dir ? `cd -- ${shellQuote(dir)}\n` : ''}exec ${command}`;
}
