import type { CiConfig } from '../core/config/model.js';
import type { CommitInfo, RunRecord } from '../core/run/model.js';
import { planRun, type PlanError } from '../core/run/plan.js';
import { RunEngine, type EngineDeps, type EngineListener } from './run-engine.js';
import { referencedNames, referencedSecrets } from './secret-refs.js';

export interface LocalRunRequest {
  config: CiConfig;
  repoId: string;
  /** Workflows to run; empty means all. */
  workflows: string[];
  inputs: Record<string, string>;
  secrets: Record<string, string>;
  commit?: CommitInfo;
  repoUrl?: string;
  /** `org/repo` as GITHUB_REPOSITORY and id tokens name it. */
  repoPath?: string;
  /** Names of the service connections given; a token naming another fails before the run starts. */
  connections?: string[];
}

export type LocalRunStart = { errors: PlanError[] } | { errors: []; engine: RunEngine; run: RunRecord };

/**
 * Plans and stores a manual run of a config, ready to execute. Inputs given by name go to every
 * chosen workflow that declares them; a name no chosen workflow declares is an error, as is a
 * referenced secret that was not given.
 */
export async function startLocalRun(
  deps: EngineDeps,
  request: LocalRunRequest,
  listener?: EngineListener,
): Promise<LocalRunStart> {
  const { config } = request;
  const names = request.workflows.length > 0 ? request.workflows : config.workflows.map((w) => w.name);
  const errors: PlanError[] = [];
  for (const input of Object.keys(request.inputs)) {
    const declared = config.workflows.some(
      (w) => names.includes(w.name) && w.inputs.some((i) => i.name === input),
    );
    if (!declared) errors.push({ message: `unknown input '${input}': no chosen workflow declares it` });
  }
  const workflows = names.map((name) => {
    const declared = config.workflows.find((w) => w.name === name)?.inputs ?? [];
    const inputs: Record<string, string> = {};
    for (const input of declared)
      if (input.name in request.inputs) inputs[input.name] = request.inputs[input.name] as string;
    return { name, inputs };
  });
  const planned = planRun(config, {
    repoId: request.repoId,
    eventType: 'manual',
    workflows,
    context: {
      configFile: config.file,
      ...(request.commit ? { commit: request.commit } : {}),
      ...(request.repoUrl ? { repoUrl: request.repoUrl } : {}),
      ...(request.repoPath ? { repoPath: request.repoPath } : {}),
    },
    now: deps.clock.now(),
    newId: deps.newId,
  });
  errors.push(...planned.errors);
  if (!planned.run || errors.length > 0) return { errors };
  const missing = [...referencedSecrets(planned.run)].filter((name) => !(name in request.secrets));
  const connections = new Set(request.connections ?? []);
  const tokens = [...referencedNames(planned.run, 'tokens')]
    .map((name) => ({ name, connection: planned.run?.context.tokens?.[name]?.serviceConnection ?? '' }))
    .filter((t) => !connections.has(t.connection));
  if (missing.length > 0 || tokens.length > 0) {
    return {
      errors: [
        ...missing.map((name) => ({
          message: `secret '${name}' is used by the config but was not given (pass --secret ${name}=VALUE or --secrets-file FILE)`,
        })),
        ...tokens.map((t) => ({
          message: `token '${t.name}' uses service connection '${t.connection}', which was not given (pass --service-connection ${t.connection}=AUDIENCE[,SERVICE_ACCOUNT_ID[,FOLDER_ID]])`,
        })),
      ],
    };
  }
  const run = await deps.store.insertRun(planned.run);
  return { errors: [], run, engine: new RunEngine(deps, run, request.secrets, listener) };
}
