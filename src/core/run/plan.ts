import type { CiConfig, InputDef, WorkflowDef } from '../config/model.js';
import type { EventType, RunContext, RunRecord, UserRef, WorkflowRun } from './model.js';

export interface PlanRequest {
  repoId: string;
  eventType: EventType;
  /** Workflow names to run; each with its input values. */
  workflows: { name: string; inputs: Record<string, string> }[];
  context: Omit<RunContext, 'env'>;
  user?: UserRef;
  now: number;
  newId: () => string;
}

export interface PlanError {
  workflow?: string;
  message: string;
}

/**
 * Materializes the run tree (status `prepared`) for the chosen workflows of a config.
 * Unknown workflows and missing or unknown inputs are errors, all reported at once.
 */
export function planRun(config: CiConfig, request: PlanRequest): { run?: RunRecord; errors: PlanError[] } {
  const errors: PlanError[] = [];
  const workflows: WorkflowRun[] = [];
  const names = config.workflows.map((w) => w.name);
  for (const wanted of request.workflows) {
    const def = config.workflows.find((w) => w.name === wanted.name);
    if (!def) {
      errors.push({
        workflow: wanted.name,
        message: `unknown workflow '${wanted.name}' (defined: ${names.join(', ')})`,
      });
      continue;
    }
    if (workflows.some((w) => w.slug === def.name)) continue;
    const inputs = resolveInputs(def.inputs, wanted.inputs);
    errors.push(...inputs.errors.map((message) => ({ workflow: def.name, message })));
    workflows.push(planWorkflow(def, inputs.values, request));
  }
  if (request.workflows.length === 0) errors.push({ message: 'no workflow to run' });
  if (errors.length > 0) return { errors };
  const dates = { createdAt: request.now, updatedAt: request.now };
  return {
    errors,
    run: {
      id: request.newId(),
      repoId: request.repoId,
      slug: '',
      status: 'prepared',
      dates,
      eventType: request.eventType,
      errorMessages: [],
      ...(request.user ? { user: request.user } : {}),
      context: {
        ...request.context,
        env: config.env,
        ...(config.tokens.length
          ? {
              tokens: Object.fromEntries(
                config.tokens.map((t) => [
                  t.name,
                  { serviceConnection: t.serviceConnection, scope: t.scope },
                ]),
              ),
            }
          : {}),
      },
      workflows,
      version: 0,
    },
  };
}

function planWorkflow(def: WorkflowDef, inputs: Record<string, string>, request: PlanRequest): WorkflowRun {
  const dates = () => ({ createdAt: request.now, updatedAt: request.now });
  return {
    id: request.newId(),
    slug: def.name,
    status: 'created',
    dates: dates(),
    spec: {
      env: def.env,
      maxCubeDurationMs: def.maxCubeDurationMs,
      checkout: def.checkout,
      runsOn: def.runsOn,
      inputs,
    },
    version: 0,
    tasks: def.tasks.map((task) => ({
      id: request.newId(),
      slug: task.name,
      status: 'created',
      dates: dates(),
      needs: task.needs,
      outputs: {},
      spec: { env: task.env, outputs: task.outputs, runsOn: task.runsOn.length ? task.runsOn : def.runsOn },
      version: 0,
      cubes: task.cubes.map((cube) => ({
        id: request.newId(),
        slug: cube.name,
        status: 'created',
        dates: dates(),
        needs: cube.needs,
        allowFailure: cube.allowFailure,
        artifacts: [],
        outputs: {},
        spec: {
          ...(cube.script ? { script: cube.script } : {}),
          ...(cube.image ? { image: cube.image } : {}),
          ...(cube.action ? { action: cube.action, with: cube.with ?? {} } : {}),
          env: cube.env,
          artifacts: cube.artifacts,
        },
        version: 0,
      })),
    })),
  };
}

/** Applies defaults, and reports missing required inputs and names the workflow does not declare. */
export function resolveInputs(
  defs: readonly InputDef[],
  given: Record<string, string>,
): { values: Record<string, string>; errors: string[] } {
  const values: Record<string, string> = {};
  const errors: string[] = [];
  for (const name of Object.keys(given)) {
    if (!defs.some((d) => d.name === name)) {
      errors.push(
        `unknown input '${name}'${defs.length ? ` (declared: ${defs.map((d) => d.name).join(', ')})` : ' (the workflow declares no inputs)'}`,
      );
    }
  }
  for (const def of defs) {
    const value = given[def.name] ?? def.default;
    if (value === undefined || (def.required && value === '')) {
      if (def.required)
        errors.push(`missing required input '${def.name}'${def.description ? ` (${def.description})` : ''}`);
      else values[def.name] = '';
      continue;
    }
    if (def.type === 'boolean' && value !== 'true' && value !== 'false') {
      errors.push(`input '${def.name}' must be true or false, got '${value}'`);
    } else if (def.type === 'number' && (value.trim() === '' || Number.isNaN(Number(value)))) {
      errors.push(`input '${def.name}' must be a number, got '${value}'`);
    }
    values[def.name] = value;
  }
  return { values, errors };
}
