import { CONFIG_PATHS } from '../../app/load-config.js';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { LiveView } from '../../app/live-views.js';
import { plugin } from '../plugin.js';
import type { Principal } from '../../app/access.js';
import { createRun } from '../../app/create-run.js';
import { AppError, invalid, notFound } from '../../app/errors.js';
import { safeEqual } from '../../app/secret-box.js';
import { restartRun } from '../../app/restart-run.js';
import type { CommitInfo, RunRecord } from '../../core/run/model.js';
import type { Repo } from '../../ports/directory-store.js';
import { artifactJson, runJson } from '../../transport/run-json.js';
import type { ServerContext } from '../context.js';
import { repoFor, repoPaths, type RepoParams } from '../repo-paths.js';
import { getCube } from '../run-view.js';
import {
  LegacyTriggerBody,
  LogsQuery,
  RestartBody,
  RunsQuery,
  RunWorkflowsBody,
  ref,
  type GitRevision,
} from '../schemas.js';

type RunParams = RepoParams & { run_slug: string };
type CubeParams = RunParams & { workflow_slug: string; task_slug: string; cube_slug: string };

const DEFAULT_PAGE_SIZE = 20;
/** Manual runs fetch every time: a push a moment ago must be what they run (docs/api.md). */
const MANUAL_FETCH_MAX_AGE_MS = 0;

/** SourceCraft's CI/CD operations, plus cancel and restart. */
export function runRoutes(ctx: ServerContext): FastifyPluginAsync {
  const signer = (text: string) => ctx.box.sign(text);
  const { services } = ctx;

  const loadRun = async (repo: Repo, slug: string): Promise<RunRecord> => {
    const run = await services.runs.findRun(repo.id, slug);
    if (!run) throw notFound(`run ${slug} not found in ${repo.orgSlug}/${repo.slug}`);
    return run;
  };
  /** The repository, run and cube a logs or artifacts path names, if the caller may read them. */
  const cubeOf = async (principal: Principal, p: CubeParams) => {
    const repo = await repoFor(ctx, principal, p, 'reader');
    const run = await loadRun(repo, p.run_slug);
    return { repo, run, cube: getCube(run, p.workflow_slug, p.task_slug, p.cube_slug).cube };
  };
  /** The run's live view (app/live-views.ts); `Cache-Control: no-cache` asks the store first. */
  const liveView = async (request: FastifyRequest<{ Params: RunParams }>, repo: Repo) => {
    const revalidate = /no-cache/.test(request.headers['cache-control'] ?? '');
    const view = await ctx.live.get(repo, request.params.run_slug, revalidate);
    if (!view) throw notFound(`run ${request.params.run_slug} not found in ${repo.orgSlug}/${repo.slug}`);
    return view;
  };
  const present = async (repo: Repo, run: RunRecord) => runJson(run, await ctx.view.options(repo, run));
  /** A page of runs that pass the filter: store pages are read until the page is full or runs end. */
  const listFiltered = async (
    repoId: string,
    pageSize: number,
    before: number | undefined,
    filter: ((run: RunRecord) => boolean) | undefined,
  ) => {
    if (!filter)
      return services.runs.listRuns(repoId, {
        pageSize,
        ...(before !== undefined ? { beforeSlug: before } : {}),
      });
    const runs: RunRecord[] = [];
    let cursor = before;
    for (;;) {
      const page = await services.runs.listRuns(repoId, {
        pageSize: Math.max(pageSize, 50),
        ...(cursor !== undefined ? { beforeSlug: cursor } : {}),
      });
      for (const run of page.runs) {
        if (!filter(run)) continue;
        runs.push(run);
        if (runs.length === pageSize) return { runs, nextBeforeSlug: Number(run.slug) };
      }
      if (page.nextBeforeSlug === undefined) return { runs };
      cursor = page.nextBeforeSlug;
    }
  };

  return plugin((app) => {
    for (const path of repoPaths('/cicd/runs')) {
      app.get<{ Params: RepoParams; Querystring: RunsQuery }>(
        path,
        {
          schema: {
            querystring: RunsQuery,
            tags: ['CICD'],
            operationId: opId('ListRuns', path),
            response: { 200: ref('ListRunsResponse') },
          },
        },
        async (request) => {
          const repo = await repoFor(ctx, request.principal, request.params, 'reader');
          const pageSize = Number(request.query.page_size ?? DEFAULT_PAGE_SIZE);
          if (!(pageSize >= 1 && pageSize <= 1000))
            throw invalid('page_size must be between 1 and 1000', {
              page_size: String(request.query.page_size),
            });
          const before =
            request.query.page_token === undefined || request.query.page_token === ''
              ? undefined
              : decodePageToken(request.query.page_token, signer, repo.id);
          const filter = runFilter(request.query);
          const page = await listFiltered(repo.id, pageSize, before, filter);
          const runs = [];
          for (const run of page.runs) runs.push(await present(repo, run));
          return {
            runs,
            ...(page.nextBeforeSlug !== undefined
              ? { next_page_token: encodePageToken(page.nextBeforeSlug, signer, repo.id) }
              : {}),
          };
        },
      );

      app.post<{ Params: RepoParams; Body: RunWorkflowsBody }>(
        path,
        {
          schema: {
            body: ref('RunWorkflowsBody'),
            tags: ['CICD'],
            operationId: opId('RunWorkflows', path),
            response: { 200: ref('Run') },
          },
        },
        async (request) => {
          const repo = await repoFor(ctx, request.principal, request.params, 'developer');
          const user = ctx.access.requireUser(request.principal);
          const body = request.body;
          const workflows = body.workflows.map((w) => {
            const inputs: Record<string, string> = {};
            for (const v of w.values ?? []) {
              if (v.name in inputs) throw invalid(`input '${v.name}' of workflow '${w.name}' is given twice`);
              inputs[v.name] = v.value;
            }
            return { name: w.name, inputs };
          });
          const run = await startManual(
            repo,
            user,
            { revision: body.head, field: 'head' },
            body.config_revision ? { revision: body.config_revision, field: 'config_revision' } : undefined,
            workflows,
          );
          return present(repo, run);
        },
      );
    }

    for (const path of repoPaths('/cicd/runs/:run_slug')) {
      app.get<{ Params: RunParams }>(
        path,
        { schema: { tags: ['CICD'], operationId: opId('GetRun', path), response: { 200: ref('Run') } } },
        async (request, reply) => {
          const repo = await repoFor(ctx, request.principal, request.params, 'reader');
          const view = await liveView(request, repo);
          return sendView(request, reply, view, await view.runBody(repo, services.clock.now()));
        },
      );

      app.get<{ Params: RunParams & { workflow_slug: string } }>(
        `${path}/:workflow_slug`,
        {
          schema: {
            tags: ['CICD'],
            operationId: opId('GetWorkflow', path),
            response: { 200: ref('Workflow') },
          },
        },
        async (request, reply) => {
          const repo = await repoFor(ctx, request.principal, request.params, 'reader');
          const view = await liveView(request, repo);
          const slug = request.params.workflow_slug;
          const body = await view.workflowBody(repo, slug, services.clock.now());
          if (body === undefined) throw notFound(`workflow '${slug}' not found in run ${view.run.slug}`);
          return sendView(request, reply, view, body);
        },
      );

      app.post<{ Params: RunParams; Body: { comment?: string } | undefined }>(
        `${path}/cancel`,
        { schema: { tags: ['CICD'] } },
        async (request, reply) => {
          const repo = await repoFor(ctx, request.principal, request.params, 'developer');
          const user = ctx.access.requireUser(request.principal);
          const run = await loadRun(repo, request.params.run_slug);
          if (
            run.status === 'success' ||
            run.status === 'failed' ||
            run.status === 'timeout' ||
            run.status === 'canceled'
          )
            throw new AppError(
              'Conflict',
              `run ${run.slug} already ended (${run.status}); nothing to cancel`,
            );
          const comment = request.body?.comment?.trim().slice(0, 1000);
          const outcome = await ctx.dispatcher.cancel(
            run,
            `canceled by ${user.slug}${comment ? `: ${comment}` : ''}`,
          );
          // Executing on another replica: it stops the run within a second; 202 says so.
          if (outcome === 'requested') reply.code(202);
          return present(repo, await loadRun(repo, run.slug));
        },
      );

      app.post<{ Params: RunParams; Body: { scope?: 'all' | 'failed' } | undefined }>(
        `${path}/restart`,
        { schema: { body: RestartBody, tags: ['CICD'] } },
        async (request) => {
          const repo = await repoFor(ctx, request.principal, request.params, 'developer');
          const user = ctx.access.requireUser(request.principal);
          const original = await loadRun(repo, request.params.run_slug);
          const run = await restartRun(services, repo, original, request.body?.scope ?? 'all', {
            id: user.id,
            slug: user.slug,
          });
          return present(repo, run);
        },
      );
    }

    for (const path of repoPaths('/cicd/logs/:run_slug/:workflow_slug/:task_slug/:cube_slug')) {
      app.get<{ Params: CubeParams; Querystring: { page?: number | string; timestamps?: boolean } }>(
        path,
        {
          schema: {
            querystring: LogsQuery,
            tags: ['CICD'],
            operationId: opId('GetCubeLogs', path),
            response: { 200: ref('GetCubeLogsResponse') },
          },
        },
        async (request) => {
          const { run, cube } = await cubeOf(request.principal, request.params);
          const page = Number(request.query.page ?? 1);
          if (page < 1)
            throw invalid('page must be 1 or more (pages are numbered from 1)', { page: String(page) });
          const done = cube.status !== 'created' && cube.status !== 'processing';
          const result = await ctx.logs.page(run.id, cube.id, page, done);
          if (!result)
            throw notFound(`log page ${page} has not started yet; read page ${page - 1} until page_complete`);
          const stamp = request.query.timestamps === true;
          const logs = result.lines
            .map((l) => `${stamp ? `${new Date(l.at).toISOString()} ` : ''}${l.text}\n`)
            .join('');
          // `done`: the cube ended and this is its last page, so a client reading pages in order stops here.
          return { logs, page_complete: result.complete, done: result.last };
        },
      );
    }

    for (const path of repoPaths('/cicd/artifacts/:run_slug/:workflow_slug/:task_slug/:cube_slug')) {
      app.get<{ Params: CubeParams }>(
        path,
        {
          schema: {
            tags: ['CICD'],
            operationId: opId('GetCubeArtifacts', path),
            response: { 200: ref('GetCubeArtifactsResponse') },
          },
        },
        async (request) => {
          const { repo, run, cube } = await cubeOf(request.principal, request.params);
          const options = await ctx.view.options(repo, run);
          const where = {
            workflow: request.params.workflow_slug,
            task: request.params.task_slug,
            cube: request.params.cube_slug,
          };
          // From S3, single files link to the bucket (presigned); the rest to this server's signed link.
          const artifacts = await Promise.all(
            cube.artifacts.map(async (a) =>
              artifactJson(
                a,
                (await ctx.view.directDownloadUrl(repo.id, a)) ?? options.artifactUrl(a, where),
              ),
            ),
          );
          return { artifacts };
        },
      );
    }

    for (const trigger of [
      '/:org_slug/:repo_slug/ci_workflows/:workflow_name/trigger',
      '/repos/:repo_ref/ci_workflows/:workflow_name/trigger',
    ]) {
      app.post<{
        Params: RepoParams & { workflow_name: string };
        Body: LegacyTriggerBody | undefined;
      }>(trigger, { schema: { body: LegacyTriggerBody, tags: ['CICD (deprecated)'] } }, async (request) => {
        const repo = await repoFor(ctx, request.principal, request.params, 'developer');
        const user = ctx.access.requireUser(request.principal);
        const body = request.body ?? {};
        const inputs = Object.fromEntries((body.input?.values ?? []).map((v) => [v.name, v.value]));
        const run = await startManual(
          repo,
          user,
          { revision: legacyRevision(body.revision), field: 'revision' },
          body.workflow_revision
            ? { revision: legacyRevision(body.workflow_revision), field: 'workflow_revision' }
            : undefined,
          [{ name: request.params.workflow_name, inputs }],
        );
        return { flux_id: run.id, flux_public_id: run.slug, trigger_status: 'created' };
      });
    }
  });

  /** A GitRevision ("exactly one of branch, tag, commit"); none means the default branch. */
  /**
   * A manual run (RunWorkflows and the deprecated trigger): fetch unless a fetch is fresh, resolve
   * the head and config revisions (the config defaults to the head), and create the run strictly.
   */
  async function startManual(
    repo: Repo,
    user: { id: string; slug: string },
    head: { revision: GitRevision | undefined; field: string },
    config: { revision: GitRevision | undefined; field: string } | undefined,
    workflows: { name: string; inputs: Record<string, string> }[],
  ): Promise<RunRecord> {
    await services.mirrors.sync(repo.id, repo.cloneUrl, MANUAL_FETCH_MAX_AGE_MS).catch((error: unknown) => {
      throw new AppError(
        'Unavailable',
        `cannot fetch the repository: ${error instanceof Error ? error.message : String(error)}`,
      );
    });
    const headCommit = await resolveRevision(repo, head.revision, head.field);
    const configCommit = config ? await resolveRevision(repo, config.revision, config.field) : headCommit;
    return createRun(
      services,
      repo,
      {
        eventType: 'manual',
        trigger: 'api',
        head: headCommit,
        configSha: configCommit.sha,
        workflows,
        user: { id: user.id, slug: user.slug },
      },
      true,
    );
  }

  async function resolveRevision(
    repo: Repo,
    revision: GitRevision | undefined,
    field: string,
  ): Promise<CommitInfo> {
    const given = Object.entries(revision ?? {}).filter(([, v]) => v !== undefined && v !== '');
    if (given.length > 1)
      throw invalid(`${field}: give exactly one of branch, tag, commit`, {
        [field]: given.map(([k]) => k).join(','),
      });
    // The cached repository may predate its first push, which can name another default branch.
    const fresh = given.length === 0 ? ((await services.directory.findRepoById(repo.id)) ?? repo) : repo;
    const rev = given.length === 0 ? { branch: fresh.defaultBranch } : (revision as GitRevision);
    try {
      return await services.mirrors.resolve(repo.id, rev, CONFIG_PATHS);
    } catch (error) {
      const branches = Object.keys(await services.mirrors.listRefs(repo.id))
        .filter((r) => r.startsWith('refs/heads/'))
        .map((r) => r.slice('refs/heads/'.length));
      const hint =
        given.length === 0
          ? ` (the default branch '${fresh.defaultBranch}' does not exist; branches: ${branches.join(', ') || 'none yet'}; name one, or change the default: PATCH /repos/${repo.orgSlug}/${repo.slug})`
          : '';
      throw invalid(`${field}: ${error instanceof Error ? error.message : String(error)}${hint}`, {
        [field]: JSON.stringify(rev),
      });
    }
  }
}

/** A view's body, or 304 when the client has this revision already (weak ETag per view and revision). */
function sendView(request: FastifyRequest, reply: FastifyReply, view: LiveView, body: string) {
  const etag = view.etag();
  reply.header('etag', etag).header('cache-control', 'no-cache');
  if (request.headers['if-none-match'] === etag) return reply.code(304).send();
  return reply.type('application/json').send(body);
}

/** The deprecated trigger's revisions: "mybranch", "tags:v1.0.0" or a commit sha. */
function legacyRevision(text: string | undefined): GitRevision | undefined {
  if (!text) return undefined;
  if (text.startsWith('tags:')) return { tag: text.slice(5) };
  if (/^[0-9a-f]{40}$/i.test(text)) return { commit: text };
  return { branch: text };
}

/** Operation ids as SourceCraft names them; the unprefixed and `id:` paths get their own suffix. */
function opId(name: string, path: string): string {
  if (path.startsWith('/repos/:repo_ref')) return `${name}ByID`;
  if (!path.startsWith('/repos/')) return `${name}Legacy`;
  return name;
}

/** The runs list's filters (status, branch, workflow), or undefined when none is given. */
function runFilter(query: RunsQuery): ((run: RunRecord) => boolean) | undefined {
  const statuses = query.status ? new Set(String(query.status).split(',')) : undefined;
  const branch = query.branch;
  const workflow = query.workflow;
  if (!statuses && !branch && !workflow) return undefined;
  return (run) =>
    (!statuses || statuses.has(run.status)) &&
    (!branch || run.context.commit?.ref === `refs/heads/${branch}` || run.context.commit?.ref === branch) &&
    (!workflow || run.workflows.some((w) => w.slug === workflow));
}

/** Page tokens are opaque to clients: the slug to continue below, versioned and base64url-encoded. */
/**
 * Page tokens are signed with the server key (D18), for one repository: a token this server did
 * not issue, or issued for another repository, is a 400.
 */
export function encodePageToken(beforeSlug: number, sign: (text: string) => string, scope = ''): string {
  const body = `runs:v1:${beforeSlug}`;
  return `${Buffer.from(body).toString('base64url')}.${sign(`page:${scope}:${body}`)}`;
}

export function decodePageToken(token: string, sign: (text: string) => string, scope = ''): number {
  const [encoded = '', signature = ''] = token.split('.');
  const body = Buffer.from(encoded, 'base64url').toString('utf8');
  const match = /^runs:v1:(\d{1,15})$/.exec(body);
  if (!match?.[1] || !safeEqual(signature, sign(`page:${scope}:${body}`)))
    throw invalid('page_token is not a token this server issued; start again without it', {
      page_token: token,
    });
  return Number(match[1]);
}
