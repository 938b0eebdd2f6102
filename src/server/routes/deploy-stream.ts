import type { FastifyPluginAsync } from 'fastify';
import type { ServerContext } from '../context.js';
import { plugin } from '../plugin.js';
import { deployHelpers } from './deploy-helpers.js';
import { open, reauthorize } from './streams.js';

/** How often the stream compares the project's deployment state (runs may advance on any replica). */
const CHECK_MS = 300;

/**
 * Server-sent events for a project's deployments: `event: changed` whenever a run, a job, an
 * environment's live release or the releases change (and once at the start, so a reconnecting
 * page catches up). The page then reloads what it shows; the id is the state's fingerprint.
 */
export function deployStreamRoutes(ctx: ServerContext): FastifyPluginAsync {
  const { deployments } = ctx.deploy;
  const { project } = deployHelpers(ctx);

  const fingerprint = async (projectId: string): Promise<string> => {
    const runs = await deployments.listRuns(projectId, { page: 1, pageSize: 50 });
    const envs = await deployments.listEnvironments(projectId);
    const releases = await deployments.listReleases(projectId, 1, 50);
    return [
      runs.total,
      ...runs.results.map((r) => `${r.id}:${r.version}:${r.jobs.map((j) => j.version).join('.')}`),
      ...envs.map((e) => `${e.id}:${e.releaseId ?? ''}:${e.updatedAt}`),
      releases.total,
      ...releases.results.map((r) => `${r.id}:${r.status}`),
    ].join('|');
  };

  return plugin((app) => {
    // These streams never end by themselves: end them when the server closes, so it can.
    const streams = new Set<{ end(): void }>();
    app.addHook('preClose', (done) => {
      for (const s of streams) s.end();
      done();
    });
    app.get<{ Params: { projectId: string } }>(
      '/api/projects/:projectId/events',
      { schema: { tags: ['Deployment streams'] } },
      async (request, reply) => {
        const repo = await project(request, 'reader');
        const sse = open(
          reply,
          reauthorize(ctx, request, () => project(request, 'reader')),
        );
        streams.add(sse);
        let last = '';
        let seq = 0;
        while (!sse.closed()) {
          const now = await fingerprint(repo.id);
          if (now !== last) {
            last = now;
            sse.send('changed', { seq: ++seq }, String(seq));
          }
          await new Promise((resolve) => setTimeout(resolve, CHECK_MS));
        }
        streams.delete(sse);
        sse.end();
      },
    );
  });
}
