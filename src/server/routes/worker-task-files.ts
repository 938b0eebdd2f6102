import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join, normalize, relative } from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { invalid, notFound } from '../../app/errors.js';
import type { TokenValues } from '../../app/expression-scope.js';
import { findConnection, tokenMinter } from '../../app/id-tokens.js';
import type { RunRecord } from '../../core/run/model.js';
import type { WorkerTaskRow } from '../../ports/worker-store.js';
import type { ServerContext } from '../context.js';
import { plugin } from '../plugin.js';
import { taskLease } from './task-lease.js';

const IdTokenBody = Type.Object({
  epoch: Type.Integer(),
  name: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' }),
});
type IdTokenBody = Static<typeof IdTokenBody>;

/** A release file as the worker fetches it: path inside the release, size and sha256 to check. */
export interface ReleaseFile {
  path: string;
  size: number;
  sha256: string;
}

/**
 * What a task's cubes get from the server beyond git and the assignment (docs/workers.md): the
 * OIDC id tokens of `tokens:` (minted here, where the signing keys are, once per task) and a
 * deployment job's release artifacts. All with the task token of the lease.
 */
export function workerTaskFileRoutes(ctx: ServerContext): FastifyPluginAsync {
  const hub = ctx.workers;
  return plugin((app) => {
    const schema = { hide: true };

    app.post<{ Params: { task_id: string }; Body: IdTokenBody }>(
      '/worker/v1/tasks/:task_id/id-token',
      { schema: { ...schema, body: IdTokenBody } },
      async (request) => {
        const row = await taskLease(hub, request, request.params.task_id, request.body.epoch);
        try {
          if (hub.dispatch.executesHere(row.taskId))
            return await hub.dispatch.idToken(row.taskId, request.body.name);
          return await mintElsewhere(ctx, row, request.body.name);
        } catch (error) {
          if (error instanceof Error && error.constructor === Error) throw invalid(error.message);
          throw error;
        }
      },
    );

    app.get<{ Params: { task_id: string } }>(
      '/worker/v1/tasks/:task_id/release',
      { schema },
      async (request) => {
        const dir = releaseDir(await taskLease(hub, request, request.params.task_id));
        return { files: dir ? await listFiles(dir) : [] };
      },
    );

    app.get<{ Params: { task_id: string }; Querystring: { path?: string } }>(
      '/worker/v1/tasks/:task_id/release/file',
      { schema },
      async (request, reply) => {
        const dir = releaseDir(await taskLease(hub, request, request.params.task_id));
        const path = normalize(request.query.path ?? '');
        if (!dir || !path || path.startsWith('..') || path.startsWith('/'))
          throw invalid('give a file of the release as ?path=RELATIVE/PATH');
        const files = await listFiles(dir);
        if (!files.some((f) => f.path === path)) throw invalid(`the release has no file ${path}`);
        return reply.type('application/octet-stream').send(createReadStream(join(dir, path)));
      },
    );
  });
}

/** The release directory a deployment job's run attaches (app/deploy-engine.ts), if any. */
function releaseDir(row: WorkerTaskRow): string | undefined {
  return (JSON.parse(row.payload) as RunRecord).context.attachDir;
}

async function listFiles(root: string): Promise<ReleaseFile[]> {
  const out: ReleaseFile[] = [];
  for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const full = join(entry.parentPath, entry.name);
    const bytes = await readFile(full);
    out.push({
      path: relative(root, full),
      size: bytes.length,
      sha256: createHash('sha256').update(bytes).digest('hex'),
    });
  }
  return out.sort((a, b) => a.path.localeCompare(b.path));
}

/**
 * The id token of a task whose run another replica executes (its worker came through this one):
 * minted here from the lease's run record, with the signing keys every replica reads from the
 * store. The executing replica mints once per task and reuses it; here each request mints anew.
 */
async function mintElsewhere(ctx: ServerContext, row: WorkerTaskRow, name: string): Promise<TokenValues> {
  const run = JSON.parse(row.payload) as RunRecord;
  const workflow = run.workflows[0];
  const task = workflow?.tasks[0];
  const repo = await ctx.services.directory.findRepoById(run.repoId);
  if (!workflow || !task || !repo) throw notFound(`task ${row.taskId} has no run or repository any more`);
  const mint = tokenMinter(ctx.issuer, { id: repo.id, path: `${repo.orgSlug}/${repo.slug}` }, (connection) =>
    findConnection(ctx.identity, repo, connection),
  );
  return mint({ run, workflow, task, token: name });
}
