import type { Readable } from 'node:stream';
import type { ArtifactFile } from '../core/run/model.js';
import type { ArtifactKey, ArtifactSource, ArtifactStore } from '../ports/artifact-store.js';
import { BlobUnavailableError, blobSegment, type BlobStore } from '../ports/blob-store.js';

export interface RetryOptions {
  /** Keep retrying an unreachable store this long (0: fail at once, e.g. to answer 503). */
  retryForMs: number;
  /** Waits between attempts double from this, up to 5 s. */
  firstDelayMs?: number;
  log?: (message: string) => void;
}

/**
 * Artifacts as blob objects under `<prefix><run>/<workflow>/<task>/<cube>/<path>` (the layout the
 * data dir always had, so files stored before stay where they were). An unreachable store is
 * retried, reopening the source each time, until `retryForMs` has passed.
 */
export class BlobArtifactStore implements ArtifactStore {
  constructor(
    private readonly blobs: BlobStore,
    private readonly prefix: string,
    private readonly retry: RetryOptions = { retryForMs: 0 },
  ) {}

  /** The blob key of a path in a cube's area; the area itself for an empty path. */
  keyOf(key: ArtifactKey, relativePath: string): string {
    const area = `${this.prefix}${[key.runSlug, key.workflow, key.task, key.cube].map(blobSegment).join('/')}`;
    const path = relativePath.replace(/^\.\/+/, '').replace(/\/+$/, '');
    return path === '' || path === '.' ? area : `${area}/${path}`;
  }

  async put(
    key: ArtifactKey,
    relativePath: string,
    source: ArtifactSource,
    sha256?: string,
  ): Promise<ArtifactFile> {
    const blobKey = this.keyOf(key, relativePath);
    const stored = await withRetry(this.retry, `storing artifact ${relativePath}`, () =>
      this.blobs.put(blobKey, source(), sha256 ? { sha256 } : {}),
    );
    return { path: relativePath, size: stored.size, sha256: stored.sha256 };
  }

  async remove(key: ArtifactKey, relativePath: string): Promise<void> {
    await this.blobs.delete(this.keyOf(key, relativePath));
  }

  locate(key: ArtifactKey, relativePath: string): string {
    return this.blobs.url(this.keyOf(key, relativePath));
  }

  open(key: ArtifactKey, relativePath: string): Promise<Readable> {
    return this.blobs.get(this.keyOf(key, relativePath));
  }
}

/** A repository's area in the artifact store (the data dir's layout since the first release). */
export function artifactPrefix(repoId: string): string {
  return `artifacts/${repoId.replace(/[^A-Za-z0-9-]/g, '_')}/`;
}

/** Runs `attempt` until it succeeds, retrying BlobUnavailableError for `retryForMs` with backoff. */
export async function withRetry<T>(
  options: RetryOptions,
  doing: string,
  attempt: () => Promise<T>,
): Promise<T> {
  const started = Date.now();
  let delay = options.firstDelayMs ?? 200;
  for (let failures = 1; ; failures++) {
    try {
      return await attempt();
    } catch (error) {
      if (!(error instanceof BlobUnavailableError) || Date.now() - started + delay > options.retryForMs)
        throw error;
      if (failures === 1 || failures % 10 === 0)
        options.log?.(`the blob store is unreachable ${doing} (${error.message}); retrying`);
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 5000);
    }
  }
}
