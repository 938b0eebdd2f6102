import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { plugin } from '../plugin.js';
import { AppError, notFound } from '../../app/errors.js';
import { artifactPrefix } from '../../artifacts/blob-artifact-store.js';
import { FileBlobStore } from '../../blob/file-blob-store.js';
import type { BlobStore } from '../../ports/blob-store.js';
import type { ServerContext } from '../context.js';
import { getCube } from '../run-view.js';

type Params = {
  repo_id: string;
  run_slug: string;
  workflow: string;
  task: string;
  cube: string;
  index: string;
};

/** How long the S3 link a signed server link redirects to stays valid. */
const REDIRECT_TTL_S = 300;

/**
 * Downloads behind the signed, expiring `download_url`s of artifacts: no token needed while the
 * signature holds. A file comes as it is (from S3: a redirect to a presigned URL); a directory as
 * a gzipped tar stream.
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
        const key = artifact?.location ? ctx.blobs.keyOf(artifact.location) : undefined;
        if (!key?.startsWith(artifactPrefix(p.repo_id))) throw notFound('the artifact is not stored');
        return sendArtifact(ctx.blobs, key, reply);
      },
    );
  });
}

/** The object at `key`, or the objects under `key/` as a .tar.gz; 404 when there are none. */
async function sendArtifact(blobs: BlobStore, key: string, reply: FastifyReply): Promise<FastifyReply> {
  const name = (key.split('/').pop() ?? 'artifact').replace(/"/g, '');
  const file = await blobs.head(key);
  if (file) {
    const url = await blobs.downloadUrl(key, { expiresInS: REDIRECT_TTL_S, filename: name });
    if (url) return reply.redirect(url, 302);
    return reply
      .header('content-type', 'application/octet-stream')
      .header('content-length', file.size)
      .header('content-disposition', `attachment; filename="${name}"`)
      .send(await blobs.get(key));
  }
  const dir = await directoryOf(blobs, key);
  if (!dir) throw notFound('the artifact is not stored');
  const tar = spawn('tar', ['-czf', '-', '-C', dir.path, '.'], { stdio: ['ignore', 'pipe', 'ignore'] });
  tar.on('close', () => void dir.cleanup());
  return reply
    .header('content-type', 'application/gzip')
    .header('content-disposition', `attachment; filename="${name}.tar.gz"`)
    .send(tar.stdout);
}

/**
 * A directory holding the objects under `key/`: the store's own for files, else a temporary copy
 * (S3 has no directories to hand to tar). Undefined when there are no such objects.
 */
async function directoryOf(
  blobs: BlobStore,
  key: string,
): Promise<{ path: string; cleanup: () => Promise<void> } | undefined> {
  if (blobs instanceof FileBlobStore) {
    for await (const _ of blobs.list(`${key}/`))
      return { path: join(blobs.root, ...key.split('/')), cleanup: () => Promise.resolve() };
    return undefined;
  }
  const temp = await mkdtemp(join(tmpdir(), 'conveyor-artifact-'));
  const cleanup = () => rm(temp, { recursive: true, force: true });
  let count = 0;
  try {
    for await (const object of blobs.list(`${key}/`)) {
      const target = join(temp, ...object.key.slice(key.length + 1).split('/'));
      await mkdir(dirname(target), { recursive: true, mode: 0o700 });
      await pipeline(await blobs.get(object.key), createWriteStream(target, { mode: 0o600 }));
      count++;
    }
  } catch (error) {
    await cleanup();
    throw error;
  }
  if (count > 0) return { path: temp, cleanup };
  await cleanup();
  return undefined;
}
