import type { FastifyPluginAsync } from 'fastify';
import type { ServerContext } from '../context.js';
import { plugin } from '../plugin.js';
import { repoFor, repoPaths, type RepoParams } from '../repo-paths.js';
import { open, reauthorize } from './streams.js';

/** How often the stream compares the newest runs (they may change on any replica). */
const CHECK_MS = 300;

/**
 * Server-sent events for a repository's runs list: `event: changed` at the start and whenever one
 * of the newest 50 runs is created or changes, so the list page reloads its page without polling.
 */
export function runsStreamRoutes(ctx: ServerContext): FastifyPluginAsync {
  return plugin((app) => {
    const streams = new Set<{ end(): void }>();
    app.addHook('preClose', (done) => {
      for (const s of streams) s.end();
      done();
    });
    for (const path of repoPaths('/cicd/events', false))
      app.get<{ Params: RepoParams }>(
        path,
        { schema: { tags: ['CICD streams'] } },
        async (request, reply) => {
          const repo = await repoFor(ctx, request.principal, request.params, 'reader');
          const sse = open(
            reply,
            reauthorize(ctx, request, () => repoFor(ctx, request.principal, request.params, 'reader')),
          );
          streams.add(sse);
          let last = '';
          let seq = 0;
          while (!sse.closed()) {
            const page = await ctx.services.runs.listRuns(repo.id, { pageSize: 50 });
            const now = page.runs.map((r) => `${r.slug}:${r.status}:${r.version}`).join('|');
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
