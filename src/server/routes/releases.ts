import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { FastifyInstance } from 'fastify';
import { digest } from '../../artifacts/digest.js';
import { AppError, conflict, invalid } from '../../app/errors.js';
import { bumpVersion } from '../../core/deploy/state.js';
import type { Release, ReleaseArtifact } from '../../ports/deployment-store.js';
import type { Repo } from '../../ports/directory-store.js';
import type { ServerContext } from '../context.js';
import { paginated, releaseJson } from '../deploy-json.js';
import { plugin } from '../plugin.js';
import { CreateReleaseBody, DeployPageQuery, PublishReleaseBody } from '../schemas.js';
import { deployHelpers, type P } from './deploy-helpers.js';

/** GoRules' releases: drafts, publishing with semantic versions, artifacts copied from a CI run. */
export function releaseRoutes(ctx: ServerContext) {
  const { deployments } = ctx.deploy;
  const { clock, newId } = ctx.services;
  const { project, user, getRelease } = deployHelpers(ctx);

  return plugin((app: FastifyInstance) => {
    const base = '/api/projects/:projectId';

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
  });
}

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
            const source = await store.open(
              { runSlug, workflow: w.slug, task: t.slug, cube: c.slug },
              file.path,
            );
            const target = join(dir, file.path);
            await mkdir(dirname(target), { recursive: true });
            await pipeline(source, createWriteStream(target));
            const stored = await digest(target);
            if (stored.sha256 !== file.sha256)
              throw new AppError('Internal', `artifact ${file.path} changed since run ${runSlug} stored it`);
            out.push({ path: file.path, size: stored.size, sha256: stored.sha256 });
          }
        }
  return out;
}
