import type { FastifyInstance } from 'fastify';
import { conflict, denied, invalid, notFound } from '../../app/errors.js';
import { loadRepoConfig } from '../../app/create-run.js';
import { isJobFinished } from '../../core/deploy/state.js';
import type { DeployRun, Environment, Release } from '../../ports/deployment-store.js';
import type { Repo, User } from '../../ports/directory-store.js';
import type { ServerContext } from '../context.js';
import { paginated } from '../deploy-json.js';
import { plugin } from '../plugin.js';
import { CancelBody, DeployBody, DeployPageQuery, ReviewBody, StartRunBody } from '../schemas.js';
import { deployHelpers, type P } from './deploy-helpers.js';

/**
 * GoRules' deployment-workflow runs over Conveyor's repositories (every repository is a project,
 * `projectId` is its uuid): starting runs, reading them, reviews, cancellation and the audit log.
 */
export function deploymentRoutes(ctx: ServerContext) {
  const { deployments, engine } = ctx.deploy;
  const { clock, newId } = ctx.services;
  const { project, user, runJson, getRun, getRelease, getEnv } = deployHelpers(ctx);

  const startRun = async (
    repo: Repo,
    release: Release,
    envs: Environment[],
    by: User,
    runVersion: DeployRun['runVersion'],
    name: string,
  ) => {
    if (release.status !== 'published')
      throw conflict(
        `release '${release.name}' is a draft: publish it before deploying (POST .../releases/${release.id}/publish)`,
      );
    if (envs.length === 0)
      throw invalid(
        'no environment takes part in the deployment workflow: set addToWorkflow on at least one',
      );
    await checkWorkflows(repo, release, envs);
    const now = clock.now();
    const runId = newId();
    const run: DeployRun = {
      id: runId,
      projectId: repo.id,
      name,
      status: 'in_progress',
      releaseId: release.id,
      runVersion,
      createdById: by.id,
      createdAt: now,
      version: 0,
      jobs: envs.map((env, i) => ({
        id: newId(),
        runId,
        projectId: repo.id,
        environmentId: env.id,
        order: runVersion === 'v2' ? env.workflowOrder : i,
        status: 'not_started',
        createdAt: now,
        approvals: [],
        data: {},
        version: 0,
      })),
    };
    await deployments.insertRun(run);
    await deployments.insertAudit({
      id: newId(),
      projectId: repo.id,
      at: now,
      actorId: by.id,
      action: 'deploy_started',
      type: 'release',
      data: { runId, releaseId: release.id, environments: envs.map((e) => e.key) },
    });
    await engine.advance(repo, runId);
    return runJson(repo, await getRun(repo, runId));
  };

  /** Refuses, before anything is stored, environments whose workflow the release's config lacks. */
  const checkWorkflows = async (repo: Repo, release: Release, envs: Environment[]) => {
    const deploying = envs.filter((e) => e.workflow);
    if (deploying.length === 0) return;
    const loaded = await loadRepoConfig(ctx.services.mirrors, repo, release.commitId).catch(() => undefined);
    if (!loaded?.config) return; // the CI run reports a missing or broken config itself
    const defined = loaded.config.workflows.map((w) => w.name);
    const missing = deploying.filter((e) => !defined.includes(e.workflow ?? ''));
    if (missing.length === 0) return;
    throw invalid(
      missing
        .map(
          (e) =>
            `environment '${e.key}' deploys with workflow '${e.workflow}', which is not in ${loaded.file} at ${release.commitId.slice(0, 12)} (defined: ${defined.join(', ') || 'none'})`,
        )
        .join('; '),
      { environments: missing.map((e) => e.key).join(','), defined: defined.join(',') },
    );
  };

  return plugin((app: FastifyInstance) => {
    const base = '/api/projects/:projectId';

    app.post<{ Params: P; Body: DeployBody }>(
      `${base}/releases/deploy`,
      { schema: { body: DeployBody, tags: ['Release'] } },
      async (request) => {
        const repo = await project(request, 'developer');
        const release = await getRelease(repo, request.body.releaseId);
        const env = await getEnv(repo, request.body.environmentId);
        return startRun(
          repo,
          release,
          [env],
          user(request),
          'release',
          request.body.comment || `${release.name} to ${env.key}`,
        );
      },
    );

    app.post<{ Params: P; Body: StartRunBody }>(
      `${base}/runs`,
      { schema: { body: StartRunBody, tags: ['Deployment workflows'] } },
      async (request) => {
        const repo = await project(request, 'developer');
        const release = await getRelease(repo, request.body.releaseId);
        const envs = (await deployments.listEnvironments(repo.id))
          .filter((e) => e.addToWorkflow)
          .sort((a, b) => a.workflowOrder - b.workflowOrder);
        return startRun(
          repo,
          release,
          envs,
          user(request),
          'v2',
          request.body.name ?? `${release.name} ${release.semanticVersion ?? ''}`.trim(),
        );
      },
    );

    app.get(
      `${base}/runs`,
      { schema: { querystring: DeployPageQuery, tags: ['Deployment workflows'] } },
      async (request) => {
        const repo = await project(request, 'reader');
        const q = request.query as DeployPageQuery;
        const page = q.page ?? 1;
        const pageSize = q.pageSize ?? 20;
        const { results, total } = await deployments.listRuns(repo.id, {
          page,
          pageSize,
          ...(q.status ? { status: q.status } : {}),
          ...(q.releaseId ? { releaseId: q.releaseId.toLowerCase() } : {}),
        });
        const out = [];
        for (const run of results) out.push(await runJson(repo, run));
        return paginated(out, page, pageSize, total);
      },
    );

    app.get<{ Params: P & { runId: string } }>(
      `${base}/runs/:runId`,
      { schema: { tags: ['Deployment workflows'] } },
      async (request) => {
        const repo = await project(request, 'reader');
        return runJson(repo, await getRun(repo, request.params.runId));
      },
    );

    app.post<{ Params: P & { runId: string }; Body: { comment?: string } | undefined }>(
      `${base}/runs/:runId/cancel`,
      { schema: { body: CancelBody, tags: ['Deployment workflows'] } },
      async (request) => {
        const repo = await project(request, 'developer');
        const by = user(request);
        const run = await getRun(repo, request.params.runId);
        if (run.status !== 'in_progress' && run.status !== 'waiting')
          throw conflict(`run is ${run.status}: only in_progress or waiting runs can be cancelled`);
        await engine.cancel(repo, run, request.body?.comment ?? '', { id: by.id, slug: by.slug });
        return runJson(repo, await getRun(repo, run.id));
      },
    );

    app.post<{ Params: P & { runId: string; jobId: string }; Body: ReviewBody }>(
      `${base}/runs/:runId/jobs/:jobId/review`,
      { schema: { body: ReviewBody, tags: ['Deployment workflows'] } },
      async (request) => {
        const repo = await project(request, 'reader');
        const by = user(request);
        const run = await getRun(repo, request.params.runId);
        const job = run.jobs.find((j) => j.id === request.params.jobId);
        if (!job) throw notFound(`job ${request.params.jobId} not found in run ${run.id}`);
        const env = await getEnv(repo, job.environmentId);
        const reviewers = new Set([...env.reviewers, ...env.approvalGroups.flatMap((g) => g.members)]);
        if (!reviewers.has(by.id))
          throw denied(`only the reviewers of environment '${env.key}' may review this job`);
        if (request.body.conclusion === 'approved' && by.id === run.createdById)
          throw denied('the person who started a deployment may not approve it');
        if (job.status !== 'waiting')
          throw conflict(
            isJobFinished(job.status)
              ? `the job already ended (${job.status})`
              : `the job is ${job.status}, not waiting for review`,
          );
        if (job.approvals.includes(by.id) && request.body.conclusion === 'approved')
          throw conflict('you already approved this job');
        await engine.review(repo, run, job, env, request.body.conclusion, request.body.comment ?? '', {
          id: by.id,
          slug: by.slug,
        });
        return runJson(repo, await getRun(repo, run.id));
      },
    );

    app.get(
      `${base}/audit-log`,
      { schema: { querystring: DeployPageQuery, tags: ['Audit log'] } },
      async (request) => {
        const repo = await project(request, 'maintainer');
        const q = request.query as DeployPageQuery;
        const page = q.page ?? 1;
        const pageSize = q.pageSize ?? 50;
        const { results, total } = await deployments.listAudit(repo.id, page, pageSize);
        return paginated(
          results.map((e) => ({ ...e, at: new Date(e.at).toISOString() })),
          page,
          pageSize,
          total,
        );
      },
    );
  });
}
