import type { CiConfig } from '../core/config/model.js';
import type { CommitInfo, EventType, RunContext, RunRecord, UserRef } from '../core/run/model.js';
import { planRun } from '../core/run/plan.js';
import type { Clock } from '../ports/clock.js';
import type { DirectoryStore, Repo } from '../ports/directory-store.js';
import type { RepoMirrors } from '../ports/repo-mirrors.js';
import type { RunStore } from '../ports/run-store.js';
import { invalid } from './errors.js';
import { CONFIG_PATHS, diagnosticLine } from './load-config.js';
import { configParser } from './config-parser-pool.js';
import { CONFIG_MAX_BYTES } from '../core/config/parse-config.js';
import { FileTooLarge } from '../ports/repo-mirrors.js';
import { withoutCredentials } from '../core/run/redact.js';
import type { IdentityStore } from '../ports/identity-store.js';
import { findConnection } from './id-tokens.js';
import { referencedNames, referencedSecrets } from './secret-refs.js';

export interface RunServices {
  runs: RunStore;
  directory: DirectoryStore;
  /** Service connections, for the tokens a config names (absent: tokens are not checked). */
  identity?: IdentityStore;
  mirrors: RepoMirrors;
  clock: Clock;
  newId: () => string;
  /** Called after a run is stored, so the dispatcher picks it up at once. */
  onRunCreated: () => void;
  /** Told when a git event starts no run, and why (the operator log). */
  onEventSkipped?: (repo: Repo, head: CommitInfo, reason: string) => void;
}

export interface RunRequest {
  eventType: EventType;
  trigger: NonNullable<RunContext['trigger']>;
  head: CommitInfo;
  /** The commit whose config is read. */
  configSha: string;
  /** That config, when the caller already read it (trigger matching does). */
  loaded?: LoadedRepoConfig;
  workflows: { name: string; inputs: Record<string, string> }[];
  user?: UserRef;
  baseSha?: string;
  pullSlug?: string;
  restartOf?: string;
  /** Changes the planned tree before it is stored (restarts carry over what succeeded). */
  adjust?: (run: RunRecord) => void;
  /** A deployment job's run: its environment (for secrets), variables, and release files. */
  deployment?: { environmentId: string; env: Record<string, string>; attachDir?: string };
}

export interface LoadedRepoConfig {
  file: string;
  /** Whether the commit has a config file at all. */
  found: boolean;
  config?: CiConfig;
  errors: string[];
  /** The config's warnings (the deprecated file name, unknown keys, ...), kept with the run. */
  warnings: string[];
}

/** Reads and parses the repository's config at a commit; errors are `file:line:col: message`. */
export async function loadRepoConfig(
  mirrors: RepoMirrors,
  repo: Repo,
  sha: string,
): Promise<LoadedRepoConfig> {
  for (const file of CONFIG_PATHS) {
    let text: string | undefined;
    try {
      text = await mirrors.readFile(repo.id, sha, file, CONFIG_MAX_BYTES);
    } catch (error) {
      if (!(error instanceof FileTooLarge)) throw error;
      const message = `${file}:1:1: the config is ${error.size} bytes; the limit is ${error.limit} bytes (1 MiB)`;
      return { file, found: true, errors: [message], warnings: [] };
    }
    if (text === undefined) continue;
    // On a worker thread with a time limit: a large config never stalls the server (D5).
    const parsed = await configParser.parse(text, file);
    const lines = (severity: string) =>
      parsed.diagnostics.filter((d) => d.severity === severity).map(diagnosticLine);
    const errors = lines('error');
    return {
      file,
      found: true,
      ...(parsed.config && errors.length === 0 ? { config: parsed.config } : {}),
      errors,
      warnings: lines('warning'),
    };
  }
  return {
    file: CONFIG_PATHS[0] ?? '',
    found: false,
    errors: [`no pipeline config at ${sha.slice(0, 12)}: add ${CONFIG_PATHS[0]}`],
    warnings: [],
  };
}

/**
 * Plans and stores a run. With `strict` (API calls) anything wrong is a ValidationError listing
 * every problem and nothing is stored; otherwise (git events, schedules) the run is stored `failed`
 * with the problems in `error_messages`, so the people who pushed see why nothing ran.
 */
export async function createRun(
  services: RunServices,
  repo: Repo,
  request: RunRequest,
  strict: boolean,
): Promise<RunRecord> {
  const loaded = request.loaded ?? (await loadRepoConfig(services.mirrors, repo, request.configSha));
  const context: Omit<RunContext, 'env'> = {
    configFile: loaded.file,
    commit: request.head,
    repoUrl: withoutCredentials(repo.cloneUrl),
    trigger: request.trigger,
    ...(request.baseSha ? { baseSha: request.baseSha } : {}),
    ...(request.pullSlug ? { pullSlug: request.pullSlug } : {}),
    ...(request.restartOf ? { restartOf: request.restartOf } : {}),
    ...(request.deployment ? { environmentId: request.deployment.environmentId } : {}),
    ...(request.deployment?.attachDir ? { attachDir: request.deployment.attachDir } : {}),
    ...(loaded.warnings.length ? { warnings: loaded.warnings } : {}),
    repoPath: `${repo.orgSlug}/${repo.slug}`,
  };
  const problems = [...loaded.errors];
  let planned: RunRecord | undefined;
  if (loaded.config) {
    const result = planRun(loaded.config, {
      repoId: repo.id,
      eventType: request.eventType,
      workflows: request.workflows,
      context,
      ...(request.user ? { user: request.user } : {}),
      now: services.clock.now(),
      newId: services.newId,
    });
    problems.push(
      ...result.errors.map((e) => (e.workflow ? `workflow '${e.workflow}': ${e.message}` : e.message)),
    );
    planned = result.run;
  }
  if (planned && problems.length === 0) {
    const available = new Set([
      ...(await services.directory.listSecrets('repo', repo.id)).map((s) => s.name),
      ...(await services.directory.listSecrets('org', repo.orgId)).map((s) => s.name),
      ...(request.deployment
        ? (await services.directory.listSecrets('env', request.deployment.environmentId)).map((s) => s.name)
        : []),
    ]);
    for (const name of referencedSecrets(planned))
      if (!available.has(name))
        problems.push(
          `secret '${name}' is used by the config but not set: PUT /repos/${repo.orgSlug}/${repo.slug}/cicd/secrets/${name}`,
        );
  }
  if (planned && problems.length === 0 && services.identity)
    problems.push(...(await missingConnections(services.identity, repo, planned)));
  if (problems.length > 0) {
    if (strict)
      throw invalid(problems.join('; '), Object.fromEntries(problems.map((p, i) => [`problem_${i + 1}`, p])));
    planned = failedRun(services, repo, request, context, problems);
  } else if (planned) {
    if (request.deployment) planned.context.env = { ...planned.context.env, ...request.deployment.env };
    request.adjust?.(planned);
  }
  const stored = await services.runs.insertRun(planned as RunRecord);
  if (stored.status === 'prepared') services.onRunCreated();
  return stored;
}

/** Tokens whose service connection is set neither on the repository nor on its organization. */
async function missingConnections(identity: IdentityStore, repo: Repo, run: RunRecord): Promise<string[]> {
  const problems: string[] = [];
  for (const name of referencedNames(run, 'tokens')) {
    const def = run.context.tokens?.[name];
    if (!def || (await findConnection(identity, repo, def.serviceConnection))) continue;
    problems.push(
      `token '${name}' uses service connection '${def.serviceConnection}', which is set neither for ${repo.orgSlug}/${repo.slug} nor for organization ${repo.orgSlug}: PUT /repos/${repo.orgSlug}/${repo.slug}/cicd/service-connections/${def.serviceConnection}`,
    );
  }
  return problems;
}

function failedRun(
  services: RunServices,
  repo: Repo,
  request: RunRequest,
  context: Omit<RunContext, 'env'>,
  problems: string[],
): RunRecord {
  const now = services.clock.now();
  return {
    id: services.newId(),
    repoId: repo.id,
    slug: '',
    status: 'failed',
    dates: { createdAt: now, finishedAt: now, updatedAt: now },
    eventType: request.eventType,
    errorMessages: problems,
    ...(request.user ? { user: request.user } : {}),
    context: { ...context, env: {} },
    workflows: [],
    version: 0,
  };
}
