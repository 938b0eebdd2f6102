import { Readable } from 'node:stream';
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { notFound } from '../../app/errors.js';
import type { Principal } from '../../app/access.js';
import type { ServerContext } from '../context.js';
import { plugin } from '../plugin.js';
import { repoFor, repoPaths, type RepoParams } from '../repo-paths.js';
import { getCube } from '../run-view.js';
import { LogLines, Outline, plain } from '../ui/log-lines.js';

type CubeParams = RepoParams & {
  run_slug: string;
  workflow_slug: string;
  task_slug: string;
  cube_slug: string;
};

const LinesQuery = Type.Object({
  from: Type.Optional(Type.Integer({ minimum: 0 })),
  count: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })),
  tail: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })),
});
const SearchQuery = Type.Object({
  q: Type.String({ minLength: 1, maxLength: 1000 }),
  case: Type.Optional(Type.Boolean()),
  /** Search only lines before this one (the page searches the lines it gets live itself). */
  to: Type.Optional(Type.Integer({ minimum: 0 })),
});
const RawQuery = Type.Object({ download: Type.Optional(Type.Boolean()) });
/** Line numbers returned with a search; the count is always exact. */
const MAX_MATCHES = 100_000;

/**
 * The log viewer's reads (Conveyor's, beside SourceCraft's paged GetCubeLogs): a range or the tail
 * of the complete lines, the `::group::` outline, a search over every line with an exact count,
 * and the raw log as a file.
 */
export function logViewRoutes(ctx: ServerContext): FastifyPluginAsync {
  const store = new LogLines(ctx.logs);
  const cubeOf = async (principal: Principal, p: CubeParams) => {
    const repo = await repoFor(ctx, principal, p, 'reader');
    const run = await ctx.services.runs.findRun(repo.id, p.run_slug);
    if (!run) throw notFound(`run ${p.run_slug} not found`);
    const cube = getCube(run, p.workflow_slug, p.task_slug, p.cube_slug).cube;
    const done = cube.status !== 'created' && cube.status !== 'prepared' && cube.status !== 'processing';
    return { run, cube, done };
  };
  const base = '/cicd/logs/:run_slug/:workflow_slug/:task_slug/:cube_slug';

  return plugin((app) => {
    for (const path of repoPaths(`${base}/lines`, false))
      app.get<{ Params: CubeParams; Querystring: Static<typeof LinesQuery> }>(
        path,
        { schema: { querystring: LinesQuery, tags: ['CICD logs'] } },
        async (request) => {
          const c = await cubeOf(request.principal, request.params);
          const total = await store.total(c.run.id, c.cube.id, c.done);
          const q = request.query;
          const from = q.tail !== undefined ? Math.max(0, total - q.tail) : (q.from ?? 0);
          const slice = await store.range(c.run.id, c.cube.id, c.done, from, q.tail ?? q.count ?? 1000);
          return {
            from,
            total,
            done: c.done,
            status: c.cube.status,
            lines: slice.map((l) => [l.at, l.text]),
          };
        },
      );

    for (const path of repoPaths(`${base}/outline`, false))
      app.get<{ Params: CubeParams }>(path, { schema: { tags: ['CICD logs'] } }, async (request) => {
        const c = await cubeOf(request.principal, request.params);
        const groups = new Outline();
        const total = await store.each(c.run.id, c.cube.id, c.done, (line, n) => groups.add(line.text, n));
        return { total, done: c.done, groups: groups.finish(total) };
      });

    for (const path of repoPaths(`${base}/search`, false))
      app.get<{ Params: CubeParams; Querystring: Static<typeof SearchQuery> }>(
        path,
        { schema: { querystring: SearchQuery, tags: ['CICD logs'] } },
        async (request) => {
          const c = await cubeOf(request.principal, request.params);
          const q = request.query;
          const test = matcher(q.q, q.case === true);
          const matches: number[] = [];
          let count = 0;
          let searched = 0;
          await store.each(c.run.id, c.cube.id, c.done, (line, i) => {
            if (q.to !== undefined && i >= q.to) return false;
            searched = i + 1;
            if (test(plain(line.text))) {
              count++;
              if (matches.length < MAX_MATCHES) matches.push(i);
            }
            return true;
          });
          return { searched, count, matches, done: c.done };
        },
      );

    for (const path of repoPaths(`${base}/raw`, false))
      app.get<{ Params: CubeParams; Querystring: Static<typeof RawQuery> }>(
        path,
        { schema: { querystring: RawQuery, tags: ['CICD logs'] } },
        async (request, reply) => {
          const c = await cubeOf(request.principal, request.params);
          const p = request.params;
          reply.type('text/plain; charset=utf-8').header('cache-control', 'no-store');
          if (request.query.download === true)
            reply.header(
              'content-disposition',
              `attachment; filename="${[p.run_slug, p.workflow_slug, p.task_slug, p.cube_slug].join('-').replace(/[^A-Za-z0-9._-]/g, '_')}.log"`,
            );
          // Streamed about 1 MiB at a time: a log of any size, in flat memory.
          const logs = ctx.logs;
          async function* text(): AsyncGenerator<string> {
            for (let offset = 0; ;) {
              const got = await logs.readFrom(c.run.id, c.cube.id, offset, c.done);
              if (got.next === offset) return;
              yield got.lines.map((l) => `${l.text}\n`).join('');
              offset = got.next;
            }
          }
          return reply.send(Readable.from(text()));
        },
      );
  });
}

/**
 * Plain-text matching only: a regular expression from a reader could pin the server's CPU
 * (catastrophic backtracking), and JavaScript's engine has no time limit.
 */
function matcher(query: string, caseSensitive: boolean): (text: string) => boolean {
  if (caseSensitive) return (text) => text.includes(query);
  const lower = query.toLowerCase();
  return (text) => text.toLowerCase().includes(lower);
}
