import type { EventType, RunContext } from './model.js';

export interface CubePaths {
  root: string;
  workspace: string;
  taskData: string;
  envFile: string;
  outputFile: string;
}

export interface PredefinedEnvInput {
  context: RunContext;
  eventType: EventType;
  runSlug: string;
  workflow: string;
  task: string;
  cube: string;
  checkoutEnabled: boolean;
  paths: CubePaths;
}

/**
 * The predefined variables of SourceCraft (CI, SOURCECRAFT_*), each also under a CONVEYOR_* name.
 * The description is the message without its title when the title is under 100 characters.
 */
export function predefinedEnv(input: PredefinedEnvInput): Record<string, string> {
  const { context, paths } = input;
  const commit = context.commit;
  const ref = commit?.ref ?? '';
  const message = commit?.message ?? '';
  const [title = '', ...rest] = message.split('\n');
  const description = title.length < 100 ? rest.join('\n').replace(/^\n+/, '') : message;
  const vars: Record<string, string> = {
    ROOT_DIRECTORY: paths.root,
    WORKSPACE: paths.workspace,
    TASK_DATA: paths.taskData,
    ENV: paths.envFile,
    OUTPUT: paths.outputFile,
    COMMIT_REF: ref,
    COMMIT_REF_NAME: ref.replace(/^refs\/(heads|tags)\//, ''),
    COMMIT_SHA: commit?.sha ?? '',
    COMMIT_SHORT_SHA: (commit?.sha ?? '').slice(0, 8),
    COMMIT_AUTHOR: commit?.author ?? '',
    COMMIT_MESSAGE: message,
    COMMIT_DESCRIPTION: description,
    COMMIT_TIMESTAMP: commit?.timestamp ?? '',
    BASE_SHA: context.baseSha ?? '',
    EVENT: context.trigger === 'schedule' ? 'schedule' : eventName(input.eventType),
    CHECKOUT_ENABLED: String(input.checkoutEnabled),
    RUN_ID: input.runSlug,
    WORKFLOW: input.workflow,
    TASK: input.task,
    CUBE: input.cube,
  };
  if (context.baseRef) vars.BASE_REF = context.baseRef;
  if (context.repoUrl) vars.REPO_URL = context.repoUrl;
  if (context.pullSlug) vars.PR_SLUG = context.pullSlug;
  const env: Record<string, string> = { CI: 'true', SOURCECRAFT_CI: 'true', CONVEYOR_CI: 'true' };
  for (const [key, value] of Object.entries(vars)) {
    env[`SOURCECRAFT_${key}`] = value;
    env[`CONVEYOR_${key}`] = value;
  }
  return env;
}

function eventName(eventType: EventType): string {
  return eventType === 'pr_update' ? 'pull_request' : eventType;
}
