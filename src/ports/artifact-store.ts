import type { Readable } from 'node:stream';
import type { ArtifactFile } from '../core/run/model.js';

export interface ArtifactKey {
  runSlug: string;
  workflow: string;
  task: string;
  cube: string;
}

/**
 * Where cube artifacts are kept.
 *
 * Contract: `put` stores the bytes of `source` (an opened file, already checked by the caller:
 * never a path, which could change under it) at `relativePath` under the cube's area and returns
 * their size and sha256 as stored; a second `put` of the same path replaces it. `remove` deletes
 * what `put` stored (an artifact whose collection failed leaves nothing behind).
 * `locate` gives the place of a stored path (file or directory) as a URL.
 */
export interface ArtifactStore {
  put(key: ArtifactKey, relativePath: string, source: Readable): Promise<ArtifactFile>;
  remove(key: ArtifactKey, relativePath: string): Promise<void>;
  locate(key: ArtifactKey, relativePath: string): string;
}
