import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { WORKER_LOCATION } from '../app/task-dispatch.js';
import type { ArtifactFile } from '../core/run/model.js';
import type { ArtifactKey, ArtifactSource, ArtifactStore } from '../ports/artifact-store.js';
import { LeaseLostError, type Lease, type WorkerClient } from './client.js';

/**
 * The worker's artifact store: each file is uploaded to the server with its sha256, which the
 * server checks before it stores the file (and answers what it stored). Locations name the file
 * on the server; the server maps them to its own store when it applies the report.
 */
export class UploadingArtifactStore implements ArtifactStore {
  constructor(
    private readonly client: WorkerClient,
    private readonly lease: Lease,
    /** Cube ids by cube slug (the artifact key names the cube by slug). */
    private readonly cubeIds: Map<string, string>,
  ) {}

  async put(key: ArtifactKey, relativePath: string, source: ArtifactSource): Promise<ArtifactFile> {
    const parts: Buffer[] = [];
    for await (const part of source()) parts.push(part as Buffer);
    const body = Buffer.concat(parts);
    const sha256 = createHash('sha256').update(body).digest('hex');
    const cubeId = this.cubeIds.get(key.cube) ?? key.cube;
    const { taskId, epoch, token, signal } = this.lease;
    if (signal.aborted) throw new LeaseLostError('the worker stopped the task: its lease is gone');
    const got = await this.client.call<ArtifactFile & { message?: string }>(
      'PUT',
      `/worker/v1/tasks/${taskId}/artifacts/${cubeId}?epoch=${epoch}&path=${encodeURIComponent(relativePath)}`,
      { token, body, headers: { 'x-content-sha256': sha256 }, attemptMs: 60_000 + body.length / 1024 },
    );
    if (got.status !== 201)
      throw new Error(`the server refused ${relativePath}: ${got.body.message ?? got.status}`);
    if (got.body.sha256 !== sha256) throw new Error(`the server stored ${relativePath} with another sha256`);
    return { path: relativePath, size: body.length, sha256 };
  }

  async remove(key: ArtifactKey, relativePath: string): Promise<void> {
    const cubeId = this.cubeIds.get(key.cube) ?? key.cube;
    const { taskId, epoch, token, signal } = this.lease;
    if (signal.aborted) return;
    await this.client.call(
      'DELETE',
      `/worker/v1/tasks/${taskId}/artifacts/${cubeId}?epoch=${epoch}&path=${encodeURIComponent(relativePath)}`,
      { token },
    );
  }

  locate(_key: ArtifactKey, relativePath: string): string {
    return `${WORKER_LOCATION}${relativePath}`;
  }

  /** Nothing on a worker reads artifacts back: they live on the server's store. */
  open(): Promise<Readable> {
    return Promise.reject(new Error('artifacts are read from the server, not the worker'));
  }
}
