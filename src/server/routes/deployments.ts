import { copyFile, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError, conflict, denied, invalid, notFound } from '../../app/errors.js';
import { parseDuration } from '../../core/config/duration.js';
import { bumpVersion, isJobFinished } from '../../core/deploy/state.js';
import type { DeployRun, Environment, Release, ReleaseArtifact } from '../../ports/deployment-store.js';
import type { Repo, RepoRole, User } from '../../ports/directory-store.js';
import { digest } from '../../artifacts/local-artifact-store.js';
import type { ServerContext } from '../context.js';
import { deployRunJson, environmentJson, paginated, releaseJson } from '../deploy-json.js';
import { plugin } from '../plugin.js';
import { secretRoutes } from './secret-routes.js';
import {
  CancelBody,
  CreateEnvironmentBody,
  CreateReleaseBody,
  DeployBody,
  DeployPageQuery,
  PublishReleaseBody,
  ReviewBody,
  StartRunBody,
  UpdateEnvironmentBody,
} from '../schemas.js';

type P = { projectId: string };

/**
 * GoRules' deployment-workflow API over Conveyor's repositories: every repository is a project,
 * `projectId` is its uuid. Environments, releases, runs with one job per environment, reviews,
 * cancellation and the audit log (docs/deployments.md).
 */
export function deploymentRoutes(ctx: ServerContext) {
  const { deployments, engine } = ctx.deploy;
  const { directory, clock, newId } = ctx.services;

  const project = async (request: FastifyRequest, role: RepoRole | 'reader'): Promise<Repo> => {
    const id = (request.params as P).projectId;
    const repo = /^[0-9a-f-]{36}$/i.test(id) ? await directory.findRepoById(id.toLowerCase()) : undefined;
    return ctx.access.repo(
      request.principal,
      repo,
      role === 'reader' ? 'viewer' : role,
      `project ${id}`,
      role === 'reader',
    );
  };
  const user = (request: FastifyRequest): User => ctx.access.requireUser(request.principal);
  const lookups = (repo: Repo) => {
    const users = new Map<string, Promise<User | undefined>>();
    const releases = new Map<string, Promise<Release | undefined>>();
    const envs = new Map<string, Promise<Environment | undefined>>();
    const once = <T>(map: Map<string, Promise<T>>, id: string, load: () => Promise<T>) => {
      let hit = map.get(id);
      if (!hit) map.set(id, (hit = load()));
      return hit;
    };
    return {
      users: (id: string | undefined) =>
        id ? once(users, id, () => directory.findUserById(id)) : Promise.resolve(undefined),
      releases: (id: string | undefined) =>
        id ? once(releases, id, () => deployments.findRelease(repo.id, id)) : Promise.resolve(undefined),
      envs: (id: string) => once(envs, id, () => deployments.findEnvironment(repo.id, id)),
    };
  };
  const runJson = async (repo: Repo, run: DeployRun) => {
    const l = lookups(repo);
    return deployRunJson(run, l.users, l.releases, l.envs);
  };
  const getRun = async (repo: Repo, id: string) => {
    const run = await deployments.findRun(repo.id, id);
    if (!run) throw notFound(`deployment run ${id} not found`);
    return run;
  };
  const getRelease = async (repo: Repo, id: string) => {
    const release = await deployments.findRelease(repo.id, id);
    if (!release) throw notFound(`release ${id} not found`);
    return release;
  };
  const getEnv = async (repo: Repo, id: string) => {
    const env = await deployments.findEnvironment(repo.id, id);
    if (!env) throw notFound(`environment ${id} not found`);
    return env;
  };
  const audit = (repo: Repo, action: string, actor: User, data: Record<string, unknown>) =>
    deployments.insertAudit({
      id: newId(),
      projectId: repo.id,
      at: clock.now(),
      actorId: actor.id,
      action,
      type: 'environment',
      data,
    });

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

  return plugin((app: FastifyInstance) => {
    const base = '/api/projects/:projectId';

    app.get(`${base}/environments`, { schema: { tags: ['Environment'] } }, async (request) => {
      const repo = await project(request, 'reader');
      const l = lookups(repo);
      return Promise.all(
        (await deployments.listEnvironments(repo.id)).map((env) => environmentJson(env, l.releases)),
      );
    });

    app.post<{ Params: P; Body: CreateEnvironmentBody }>(
      `${base}/environments`,
      { schema: { body: CreateEnvironmentBody, tags: ['Environment'] } },
      async (request, reply) => {
        const repo = await project(request, 'maintainer');
        const by = user(request);
        const now = clock.now();
        const env: Environment = {
          id: newId(),
          projectId: repo.id,
          name: '',
          key: '',
          type: 'brms',
          addToWorkflow: false,
          workflowOrder: 0,
          requiredReviewers: false,
          reviewers: [],
          approvalMode: 'none',
          approvalGroups: [],
          createdAt: now,
          updatedAt: now,
          version: 0,
        };
        applyEnvironment(env, request.body);
        await deployments.insertEnvironment(env);
        await audit(repo, 'environment_created', by, { environmentId: env.id, key: env.key });
        return reply.code(201).send(await environmentJson(env, lookups(repo).releases));
      },
    );

    app.put<{ Params: P & { environmentId: string }; Body: UpdateEnvironmentBody }>(
      `${base}/environments/:environmentId`,
      { schema: { body: UpdateEnvironmentBody, tags: ['Environment'] } },
      async (request) => {
        const repo = await project(request, 'maintainer');
        const by = user(request);
        const env = await getEnv(repo, request.params.environmentId);
        applyEnvironment(env, request.body);
        env.updatedAt = clock.now();
        await deployments.saveEnvironment(env);
        await audit(repo, 'environment_updated', by, {
          environmentId: env.id,
          key: env.key,
          changed: Object.keys(request.body),
        });
        return environmentJson(env, lookups(repo).releases);
      },
    );

    secretRoutes(
      app,
      ctx,
      'env',
      [`${base}/environments/:environmentId/secrets`],
      async (request) => {
        const repo = await project(request, 'maintainer');
        return (await getEnv(repo, (request.params as { environmentId: string }).environmentId)).id;
      },
      async (request, action, name) => {
        const repo = await project(request, 'maintainer');
        const envId = (request.params as { environmentId: string }).environmentId;
        await audit(repo, `environment_secret_${action}`, user(request), { environmentId: envId, name });
      },
    );

    app.get(
      `${base}/releases`,
      { schema: { querystring: DeployPageQuery, tags: ['Release'] } },
      async (request) => {
        const repo = await project(request, 'reader');
        const q = request.query as DeployPageQuery;
        const page = q.page ?? 1;
        const pageSize = q.pageSize ?? 20;
        const { results, total } = await deployments.listReleases(repo.id, page, pageSize);
        return paginated(results.map(releaseJson), page, pageSize, total);
      },
    );

    app.post<{ Params: P; Body: CreateReleaseBody }>(
      `${base}/releases`,
      { schema: { body: CreateReleaseBody, tags: ['Release'] } },
      async (request, reply) => {
        const repo = await project(request, 'developer');
        const by = user(request);
        const body = request.body;
        const id = newId();
        let commitId = body.commitId;
        let artifacts: ReleaseArtifact[] = [];
        if (body.sourceRun !== undefined) {
          const run = await ctx.services.runs.findRun(repo.id, String(body.sourceRun));
          if (!run)
            throw invalid(`sourceRun ${body.sourceRun} is not a run of this repository`, {
              sourceRun: String(body.sourceRun),
            });
          if (run.status !== 'success')
            throw conflict(`run ${run.slug} ended ${run.status}: only a successful run can be released`);
          commitId ??= run.context.commit?.sha;
          artifacts = await copyArtifacts(
            ctx,
            repo,
            run.slug,
            run.workflows,
            ctx.deploy.releaseDir(repo.id, id),
          );
        }
        if (!commitId) {
          await ctx.services.mirrors.sync(repo.id, repo.cloneUrl, 2000);
          commitId = (await ctx.services.mirrors.resolve(repo.id, { branch: repo.defaultBranch })).sha;
        } else {
          const found = await ctx.services.mirrors
            .resolve(repo.id, { commit: commitId })
            .catch(() => undefined);
          if (!found) throw invalid(`commit ${commitId} is not in the repository`, { commitId });
          commitId = found.sha;
        }
        const release: Release = {
          id,
          projectId: repo.id,
          name: body.name,
          description: body.description ?? '',
          status: 'draft',
          commitId,
          ...(body.sourceRun !== undefined ? { sourceRun: String(body.sourceRun) } : {}),
          artifacts,
          createdById: by.id,
          createdAt: clock.now(),
          rowVersion: 0,
        };
        await deployments.insertRelease(release);
        if (body.status === 'published') await publish(repo, release, body.versionType ?? 'patch');
        await deployments.insertAudit({
          id: newId(),
          projectId: repo.id,
          at: clock.now(),
          actorId: by.id,
          action: 'release_created',
          type: 'release',
          data: { releaseId: id, name: release.name },
        });
        return reply.code(201).send(releaseJson(release));
      },
    );

    const publish = async (repo: Repo, release: Release, versionType: 'major' | 'minor' | 'patch') => {
      for (let attempt = 0; ; attempt++) {
        const last = await deployments.lastPublished(repo.id);
        release.status = 'published';
        release.version = (last?.version ?? 0) + 1;
        release.semanticVersion = bumpVersion(last?.semanticVersion, versionType);
        try {
          await deployments.saveRelease(release);
          return;
        } catch (error) {
          if (!(error instanceof AppError || (error as { code?: string }).code === 'Conflict') || attempt > 3)
            throw error;
          const fresh = await getRelease(repo, release.id);
          if (fresh.status === 'published')
            throw conflict(
              `release '${fresh.name}' is already published as ${fresh.semanticVersion ?? ''}; releases are immutable once published`,
            );
          release.rowVersion = fresh.rowVersion;
        }
      }
    };

    app.post<{ Params: P & { releaseId: string }; Body: PublishReleaseBody }>(
      `${base}/releases/:releaseId/publish`,
      { schema: { body: PublishReleaseBody, tags: ['Release'] } },
      async (request) => {
        const repo = await project(request, 'developer');
        const by = user(request);
        const release = await getRelease(repo, request.params.releaseId);
        if (release.status === 'published')
          throw conflict(
            `release '${release.name}' is already published as ${release.semanticVersion ?? ''}; releases are immutable once published`,
          );
        if (request.body.name) release.name = request.body.name;
        if (request.body.description !== undefined) release.description = request.body.description;
        await publish(repo, release, request.body.versionType ?? 'patch');
        await deployments.insertAudit({
          id: newId(),
          projectId: repo.id,
          at: clock.now(),
          actorId: by.id,
          action: 'release_published',
          type: 'release',
          data: { releaseId: release.id, version: release.semanticVersion },
        });
        return releaseJson(release);
      },
    );

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

function applyEnvironment(env: Environment, body: Partial<CreateEnvironmentBody>): void {
  if (body.name !== undefined) env.name = body.name;
  if (body.key !== undefined) env.key = body.key;
  if (body.type !== undefined) env.type = body.type;
  if (body.addToWorkflow !== undefined) env.addToWorkflow = body.addToWorkflow;
  if (body.workflowOrder !== undefined) env.workflowOrder = body.workflowOrder;
  if (body.requiredReviewers !== undefined) env.requiredReviewers = body.requiredReviewers;
  if (body.reviewers !== undefined) env.reviewers = body.reviewers.map((r) => r.id);
  if (body.approvalMode !== undefined) env.approvalMode = body.approvalMode;
  if (body.approvalGroups !== undefined)
    env.approvalGroups = body.approvalGroups.map((g) => ({
      id: g.id,
      name: g.name ?? g.id,
      members: (g.members ?? []).map((m) => m.id),
    }));
  if (body.workflow !== undefined) {
    if (body.workflow === null) delete env.workflow;
    else env.workflow = body.workflow;
  }
  if (body.approvalTimeout !== undefined) {
    if (body.approvalTimeout === null) delete env.approvalTimeoutMs;
    else env.approvalTimeoutMs = parseDuration(body.approvalTimeout) ?? undefined;
  }
}

/** Copies the stored artifacts of a CI run into release storage, with their digests. */
async function copyArtifacts(
  ctx: ServerContext,
  repo: Repo,
  runSlug: string,
  workflows: import('../../core/run/model.js').WorkflowRun[],
  dir: string,
): Promise<ReleaseArtifact[]> {
  const out: ReleaseArtifact[] = [];
  const store = ctx.artifacts(repo.id);
  for (const w of workflows)
    for (const t of w.tasks)
      for (const c of t.cubes)
        for (const a of c.artifacts) {
          if (a.status !== 'success') continue;
          for (const file of a.files) {
            const source = fileURLToPath(
              store.locate({ runSlug, workflow: w.slug, task: t.slug, cube: c.slug }, file.path),
            );
            const target = join(dir, file.path);
            await mkdir(dirname(target), { recursive: true });
            await copyFile(source, target);
            const stored = await digest(target);
            if (stored.sha256 !== file.sha256)
              throw new AppError('Internal', `artifact ${file.path} changed since run ${runSlug} stored it`);
            out.push({ path: file.path, size: stored.size, sha256: stored.sha256 });
          }
        }
  return out;
}
