import pc from 'picocolors';
import { ApiClient, loadConfig, repoPrefix } from '../client.js';
import { printTable, UsageError } from '../output.js';

export interface ProjectFlags {
  repo?: string;
  json?: boolean;
}

interface Env {
  id: string;
  key: string;
  name: string;
  workflowOrder: number;
  addToWorkflow: boolean;
  approvalMode: string;
  workflow: string | null;
  approvalTimeout?: string | null;
  release: { semanticVersion: string | null } | null;
}
interface Release {
  id: string;
  name: string;
  status: string;
  semanticVersion: string | null;
  commitId: string;
  createdAt: string;
}
interface Job {
  id: string;
  status: string;
  environment: { key: string } | null;
  reviewedConclusion: string | null;
  reviewedComment: string | null;
  reviewedBy: { email: string } | null;
  reviewedAt: string | null;
  createdAt: string;
  previousRelease: { version: string | null } | null;
  event: string | null;
  data: Record<string, unknown>;
}
interface Run {
  id: string;
  name: string;
  status: string;
  runVersion: string;
  createdAt: string;
  release: { name: string; version: string | null } | null;
  jobs: Job[];
  cancelledComment: string | null;
}

const print = (text: string) => process.stdout.write(text);
const printJson = (value: unknown) => print(`${JSON.stringify(value, null, 2)}\n`);
const color = (status: string) =>
  ['completed'].includes(status)
    ? pc.green(status)
    : ['failure', 'rejected'].includes(status)
      ? pc.red(status)
      : ['waiting', 'cancelled'].includes(status)
        ? pc.yellow(status)
        : status === 'in_progress'
          ? pc.cyan(status)
          : pc.dim(status);

/** The deployment API of the repository named by --repo / CONVEYOR_REPO (its uuid is the project id). */
async function project(flags: ProjectFlags): Promise<{ api: ApiClient; base: string }> {
  const api = new ApiClient(loadConfig());
  const name = flags.repo ?? process.env.CONVEYOR_REPO;
  const match = name ? /^([^/\s]+)\/([^/\s]+)$/.exec(name) : null;
  if (!match)
    throw new UsageError(
      `repository '${name ?? ''}' is not ORG/REPO`,
      'pass --repo ORG/REPO or set CONVEYOR_REPO',
    );
  const repo = await api.request<{ id: string }>(
    'GET',
    `/repos/${encodeURIComponent(match[1] ?? '')}/${encodeURIComponent(match[2] ?? '')}`,
  );
  return { api, base: `/api/projects/${repo.id}` };
}

async function envByKey(api: ApiClient, base: string, key: string): Promise<Env> {
  const envs = await api.request<Env[]>('GET', `${base}/environments`);
  const env = envs.find((e) => e.key === key || e.id === key);
  if (!env)
    throw new UsageError(
      `no environment '${key}'`,
      `known: ${envs.map((e) => e.key).join(', ') || 'none (conveyor envs create)'}`,
    );
  return env;
}

export async function envsList(flags: ProjectFlags): Promise<number> {
  const { api, base } = await project(flags);
  const envs = await api.request<Env[]>('GET', `${base}/environments`);
  if (flags.json) printJson(envs);
  else if (envs.length === 0) print('no environments yet: conveyor envs create KEY\n');
  else
    printTable(
      ['ORDER', 'KEY', 'IN WORKFLOW', 'APPROVAL', 'TIMEOUT', 'DEPLOYS WITH', 'LIVE'],
      envs.map((e) => [
        String(e.workflowOrder),
        e.key,
        e.addToWorkflow ? 'yes' : 'manual only',
        e.approvalMode,
        e.approvalTimeout ?? '-',
        e.workflow ? `workflow ${e.workflow}` : 'record only',
        e.release?.semanticVersion ?? '-',
      ]),
    );
  return 0;
}

export interface EnvFlags extends ProjectFlags {
  name?: string;
  order?: string;
  workflow?: string;
  approval?: string;
  reviewer: string[];
  inWorkflow?: boolean;
  timeout?: string;
}

const APPROVAL_MODES = ['none', 'none_create_request', 'require_any', 'require_one_per_team'];
const RUN_STATUSES = ['in_progress', 'waiting', 'completed', 'failure', 'cancelled'];

/** Values the server would refuse with a schema message are checked here, with the allowed ones. */
function checkEnvFlags(flags: EnvFlags): void {
  if (flags.approval !== undefined && !APPROVAL_MODES.includes(flags.approval))
    throw new UsageError(`--approval '${flags.approval}' is not one of ${APPROVAL_MODES.join(', ')}`);
  if (flags.timeout !== undefined && !/^[0-9]+(ms|s|m|h|d)$/.test(flags.timeout))
    throw new UsageError(
      `--timeout '${flags.timeout}' is not a duration`,
      'a number and a unit: 90m, 72h, 3d',
    );
  if (flags.order !== undefined && !/^\d+$/.test(flags.order))
    throw new UsageError(`--order '${flags.order}' is not a whole number`);
}

export function checkRunStatus(status: string | undefined): void {
  if (status !== undefined && !RUN_STATUSES.includes(status))
    throw new UsageError(`--status '${status}' is not one of ${RUN_STATUSES.join(', ')}`);
}

function envBody(flags: EnvFlags, users: Map<string, string>): Record<string, unknown> {
  checkEnvFlags(flags);
  return {
    ...(flags.name ? { name: flags.name } : {}),
    ...(flags.order !== undefined ? { workflowOrder: Number(flags.order) } : {}),
    ...(flags.workflow !== undefined ? { workflow: flags.workflow === '' ? null : flags.workflow } : {}),
    ...(flags.approval ? { approvalMode: flags.approval } : {}),
    ...(flags.reviewer.length ? { reviewers: flags.reviewer.map((r) => ({ id: users.get(r) ?? r })) } : {}),
    ...(flags.inWorkflow !== undefined ? { addToWorkflow: flags.inWorkflow } : {}),
    ...(flags.timeout ? { approvalTimeout: flags.timeout } : {}),
  };
}

/** Reviewers may be given by user slug; the API takes ids. */
async function reviewerIds(api: ApiClient, slugs: string[]): Promise<Map<string, string>> {
  const ids = new Map<string, string>();
  for (const slug of slugs) {
    if (/^[0-9a-f-]{36}$/.test(slug)) continue;
    ids.set(slug, (await api.request<{ id: string }>('GET', `/users/${encodeURIComponent(slug)}`)).id);
  }
  return ids;
}

export async function envsCreate(key: string, flags: EnvFlags): Promise<number> {
  const { api, base } = await project(flags);
  const env = await api.request<Env>('POST', `${base}/environments`, {
    name: key,
    key,
    addToWorkflow: true,
    ...envBody(flags, await reviewerIds(api, flags.reviewer)),
  });
  if (flags.json) printJson(env);
  else print(`created environment ${env.key} (${env.id})\n`);
  await warnAboutEnv(api, key, flags);
  return 0;
}

/**
 * What would make the environment fail later, said now: a workflow the default branch's config
 * lacks, a reviewer without a role on the repository. Warnings only: both may change before a deploy.
 */
async function warnAboutEnv(api: ApiClient, key: string, flags: EnvFlags): Promise<void> {
  const warn = (text: string) => process.stderr.write(`${pc.yellow('warning')}: ${text}\n`);
  const prefix = repoPrefix(flags.repo);
  if (flags.workflow) {
    const got = await api
      .request<{ branch: string; config_file: string; workflows: { name: string }[] }>(
        'GET',
        `${prefix}/cicd/workflows`,
      )
      .catch(() => undefined);
    const names = got?.workflows.map((w) => w.name) ?? [];
    if (got && !names.includes(flags.workflow))
      warn(
        `workflow '${flags.workflow}' is not in ${got.config_file} on ${got.branch} (defined: ${names.join(', ') || 'none'}); deploying to ${key} is refused until it is`,
      );
  }
  if (flags.reviewer.length === 0) return;
  const roles = await api
    .request<{ subject_roles: { subject: { slug: string } }[] }>('GET', `${prefix}/roles`)
    .catch(() => undefined);
  if (!roles) return;
  const withRole = new Set(roles.subject_roles.map((r) => r.subject.slug));
  for (const reviewer of flags.reviewer) {
    if (withRole.has(reviewer)) continue;
    const user = await api
      .request<{ admin: boolean }>('GET', `/users/${encodeURIComponent(reviewer)}`)
      .catch(() => undefined);
    if (user && !user.admin)
      warn(
        `${reviewer} has no role on ${prefix.replace('/repos/', '')} and may not see the deployment: conveyor roles grant ${reviewer} viewer`,
      );
  }
}

export async function envsUpdate(key: string, flags: EnvFlags): Promise<number> {
  const { api, base } = await project(flags);
  const current = await envByKey(api, base, key);
  const env = await api.request<Env>(
    'PUT',
    `${base}/environments/${current.id}`,
    envBody(flags, await reviewerIds(api, flags.reviewer)),
  );
  if (flags.json) printJson(env);
  else print(`updated environment ${env.key}\n`);
  await warnAboutEnv(api, key, flags);
  return 0;
}

export async function releasesCreate(
  name: string,
  flags: ProjectFlags & { fromRun?: string; commit?: string; publish?: string; description?: string },
): Promise<number> {
  const { api, base } = await project(flags);
  const release = await api.request<Release>('POST', `${base}/releases`, {
    name,
    ...(flags.fromRun ? { sourceRun: flags.fromRun } : {}),
    ...(flags.commit ? { commitId: flags.commit } : {}),
    ...(flags.description ? { description: flags.description } : {}),
    ...(flags.publish ? { status: 'published', versionType: flags.publish } : {}),
  });
  if (flags.json) printJson(release);
  else
    print(
      `created release ${release.name} (${release.id}) ${release.status}${release.semanticVersion ? ` ${release.semanticVersion}` : ''}\n`,
    );
  return 0;
}

export async function releasesPublish(id: string, flags: ProjectFlags & { bump?: string }): Promise<number> {
  const { api, base } = await project(flags);
  const release = await api.request<Release>('POST', `${base}/releases/${encodeURIComponent(id)}/publish`, {
    versionType: flags.bump ?? 'patch',
  });
  if (flags.json) printJson(release);
  else print(`published ${release.name} as ${release.semanticVersion ?? ''}\n`);
  return 0;
}

export async function releasesList(flags: ProjectFlags): Promise<number> {
  const { api, base } = await project(flags);
  const page = await api.request<{ results: Release[] }>('GET', `${base}/releases?pageSize=50`);
  if (flags.json) printJson(page);
  else
    for (const r of page.results)
      print(
        `${(r.semanticVersion ?? 'draft').padEnd(10)} ${r.name.padEnd(24)} ${r.commitId.slice(0, 8)} ${r.id}\n`,
      );
  return 0;
}

/** `conveyor deploy RELEASE [--env KEY]`: one environment, or the whole workflow. */
export interface FollowFlags {
  wait?: boolean;
  quiet?: boolean;
}

const STILL_MOVING = new Set(['in_progress']);

/** With --wait: polls the run until it stops moving (done, failed, or waiting for a review). */
async function settle(api: ApiClient, base: string, run: Run, flags: FollowFlags): Promise<Run> {
  let last = run;
  while (flags.wait && STILL_MOVING.has(last.status)) {
    await new Promise((r) => setTimeout(r, 300));
    last = await api.request<Run>('GET', `${base}/runs/${encodeURIComponent(run.id)}`);
  }
  return last;
}

const exitOf = (run: Run) => (run.status === 'failure' || run.status === 'cancelled' ? 1 : 0);

function show(run: Run, flags: ProjectFlags & FollowFlags): void {
  if (flags.json) printJson(run);
  else if (flags.quiet) print(`${run.id}\n`);
  else print(runText(run));
}

/** A deployment run by its id or an unambiguous start of it (as `git` takes short hashes). */
async function runIdOf(api: ApiClient, base: string, text: string): Promise<string> {
  if (/^[0-9a-f-]{36}$/i.test(text)) return text.toLowerCase();
  if (!/^[0-9a-f-]{4,}$/i.test(text))
    throw new UsageError(`'${text}' is not a deployment run id`, 'conveyor deployments list shows them');
  const page = await api.request<{ results: Run[] }>('GET', `${base}/runs?pageSize=200`);
  const found = page.results.filter((r) => r.id.startsWith(text.toLowerCase()));
  if (found.length === 1 && found[0]) return found[0].id;
  throw new UsageError(
    found.length === 0
      ? `no deployment run starts with '${text}'`
      : `'${text}' is the start of ${found.length} runs`,
    'give more of the id (conveyor deployments list)',
  );
}

export async function deployCommand(
  release: string,
  flags: ProjectFlags & FollowFlags & { env?: string; comment?: string },
): Promise<number> {
  const { api, base } = await project(flags);
  const releaseId = await releaseIdOf(api, base, release);
  const run = flags.env
    ? await api.request<Run>('POST', `${base}/releases/deploy`, {
        releaseId,
        environmentId: (await envByKey(api, base, flags.env)).id,
        ...(flags.comment ? { comment: flags.comment } : {}),
      })
    : await api.request<Run>('POST', `${base}/runs`, { releaseId });
  const last = await settle(api, base, run, flags);
  show(last, flags);
  return exitOf(last);
}

/** A release by id, semantic version or name. */
async function releaseIdOf(api: ApiClient, base: string, text: string): Promise<string> {
  if (/^[0-9a-f-]{36}$/.test(text)) return text;
  const page = await api.request<{ results: Release[] }>('GET', `${base}/releases?pageSize=200`);
  const found = page.results.find((r) => r.semanticVersion === text || r.name === text);
  if (!found)
    throw new UsageError(`no release '${text}'`, 'give its id, version or name (conveyor releases list)');
  return found.id;
}

const localTime = (iso: string | null) => (iso ? new Date(iso).toLocaleString() : '');

function runText(run: Run): string {
  const lines = [
    `Run ${run.id} ${color(run.status)} (${run.runVersion}) ${run.release ? `${run.release.name} ${run.release.version ?? ''}` : ''}`,
  ];
  for (const job of run.jobs) {
    const review = job.reviewedConclusion
      ? ` ${job.reviewedConclusion}${job.reviewedComment ? `: ${job.reviewedComment}` : ''}`
      : '';
    const rollback = job.data.rollback ? pc.yellow(' rollback') : '';
    lines.push(
      `  ${(job.environment?.key ?? '?').padEnd(16)} ${color(job.status).padEnd(22)} previous ${job.previousRelease?.version ?? '-'}${review}${rollback}  ${pc.dim(job.id)}`,
    );
    const ciRun = (job.data.ciRun as { slug?: string } | undefined)?.slug;
    const facts = [
      `created ${localTime(job.createdAt)}`,
      ciRun ? `CI run #${ciRun} (conveyor runs view ${ciRun})` : '',
      job.reviewedBy ? `reviewed by ${job.reviewedBy.email} ${localTime(job.reviewedAt)}` : '',
      job.status === 'waiting' ? 'waits for a reviewer: conveyor deployments approve|reject' : '',
    ].filter(Boolean);
    lines.push(pc.dim(`    ${facts.join(' · ')}`));
  }
  if (run.cancelledComment) lines.push(`  cancelled: ${run.cancelledComment}`);
  return `${lines.join('\n')}\n`;
}

export async function deploymentsList(flags: ProjectFlags & { status?: string }): Promise<number> {
  checkRunStatus(flags.status);
  const { api, base } = await project(flags);
  const page = await api.request<{ results: Run[] }>(
    'GET',
    `${base}/runs?pageSize=50${flags.status ? `&status=${flags.status}` : ''}`,
  );
  if (flags.json) printJson(page);
  else if (page.results.length === 0) print('no deployment runs yet\n');
  else
    for (const run of page.results)
      print(
        `${run.id}  ${color(run.status).padEnd(22)} ${run.runVersion.padEnd(8)} ${run.name}  ${run.jobs.map((j) => `${j.environment?.key ?? '?'}:${j.status}`).join(' ')}\n`,
      );
  return 0;
}

export async function deploymentsGet(runId: string, flags: ProjectFlags): Promise<number> {
  const { api, base } = await project(flags);
  const id = await runIdOf(api, base, runId);
  const run = await api.request<Run>('GET', `${base}/runs/${encodeURIComponent(id)}`);
  if (flags.json) printJson(run);
  else print(runText(run));
  return 0;
}

/** Approves or rejects the job that waits for review (of `--env`, when several wait). */
export async function deploymentsReview(
  runId: string,
  conclusion: 'approved' | 'rejected',
  flags: ProjectFlags & FollowFlags & { comment?: string; env?: string },
): Promise<number> {
  const { api, base } = await project(flags);
  const id = await runIdOf(api, base, runId);
  const run = await api.request<Run>('GET', `${base}/runs/${encodeURIComponent(id)}`);
  const job = run.jobs.find(
    (j) => j.status === 'waiting' && (!flags.env || j.environment?.key === flags.env),
  );
  if (!job)
    throw new UsageError(`run ${runId} has no job waiting for review${flags.env ? ` in ${flags.env}` : ''}`);
  const after = await api.request<Run>(
    'POST',
    `${base}/runs/${encodeURIComponent(id)}/jobs/${job.id}/review`,
    { conclusion, ...(flags.comment ? { comment: flags.comment } : {}) },
  );
  const last = await settle(api, base, after, flags);
  show(last, flags);
  return flags.wait ? exitOf(last) : 0;
}

export async function deploymentsCancel(
  runId: string,
  flags: ProjectFlags & { comment?: string },
): Promise<number> {
  const { api, base } = await project(flags);
  const id = await runIdOf(api, base, runId);
  const run = await api.request<Run>('POST', `${base}/runs/${encodeURIComponent(id)}/cancel`, {
    comment: flags.comment ?? '',
  });
  if (flags.json) printJson(run);
  else print(runText(run));
  return 0;
}
