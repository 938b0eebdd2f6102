import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import type { FastifyPluginAsync } from 'fastify';
import { plugin } from '../plugin.js';
import { AppError, notFound } from '../../app/errors.js';
import type { ServerContext } from '../context.js';
import { artifactPath, getCube } from '../run-view.js';

type Params = {
  repo_id: string;
  run_slug: string;
  workflow: string;
  task: string;
  cube: string;
  index: string;
};

/**
 * Downloads behind the signed, expiring `download_url`s of artifacts: no token needed while the
 * signature holds. A file comes as it is; a directory as a gzipped tar stream.
 */
export function artifactDownloadRoutes(ctx: ServerContext): FastifyPluginAsync {
  return plugin((app) => {
    app.get<{ Params: Params; Querystring: { expires?: string; signature?: string } }>(
      '/artifacts/:repo_id/:run_slug/:workflow/:task/:cube/:index',
      { schema: { hide: true } },
      async (request, reply) => {
        const p = request.params;
        const target = `/artifacts/${p.repo_id}/${p.run_slug}/${encodeURIComponent(p.workflow)}/${encodeURIComponent(p.task)}/${encodeURIComponent(p.cube)}/${p.index}`;
        const expires = Number(request.query.expires);
        if (
          !request.query.signature ||
          !ctx.box.verify(`${target}|${request.query.expires ?? ''}`, request.query.signature)
        )
          throw new AppError(
            'PermissionDenied',
            'the download link is not valid; get a fresh one from GetCubeArtifacts',
          );
        if (!(expires > ctx.services.clock.now()))
          throw new AppError(
            'PermissionDenied',
            'the download link expired; get a fresh one from GetCubeArtifacts',
          );
        const run = await ctx.services.runs.findRun(p.repo_id, p.run_slug);
        if (!run) throw notFound('the run of this artifact no longer exists');
        const artifact = getCube(run, p.workflow, p.task, p.cube).cube.artifacts[Number(p.index)];
        const path = artifact && artifactPath(artifact, ctx.artifactsDir(p.repo_id));
        const info = path ? await stat(path).catch(() => undefined) : undefined;
        if (!path || !info) throw notFound('the artifact is not stored');
        const name = basename(path);
        if (info.isFile()) {
          return reply
            .header('content-type', 'application/octet-stream')
            .header('content-length', info.size)
            .header('content-disposition', `attachment; filename="${name.replace(/"/g, '')}"`)
            .send(createReadStream(path));
        }
        const tar = spawn('tar', ['-czf', '-', '-C', path, '.'], { stdio: ['ignore', 'pipe', 'ignore'] });
        return reply
          .header('content-type', 'application/gzip')
          .header('content-disposition', `attachment; filename="${name.replace(/"/g, '')}.tar.gz"`)
          .send(tar.stdout);
      },
    );
  });
}
