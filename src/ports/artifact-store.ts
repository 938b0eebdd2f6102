import type { Readable } from 'node:stream';
import type { ArtifactFile } from '../core/run/model.js';

export interface ArtifactKey {
  runSlug: string;
  workflow: string;
  task: string;
  cube: string;
}

/**
 * The bytes of one artifact file, opened from their start: called again to send them again when
 * the store was unreachable. Callers give an opened file (already checked: never a path, which
 * could change under it) or bytes in memory.
 */
export type ArtifactSource = () => Readable;

/**
 * Where cube artifacts are kept.
 *
 * Contract: `put` stores the bytes of `source` at `relativePath` under the cube's area and returns
 * their size and sha256 as stored; with `sha256` given, bytes that hash otherwise are refused
 * (BlobChecksumError) and nothing is stored. A second `put` of the same path replaces it whole.
 * A store that is unreachable is retried for as long as the store was configured to (then
 * BlobUnavailableError). `remove` deletes what `put` stored (an artifact whose collection failed
 * leaves nothing behind). `locate` gives the place of a stored path (file or directory) as a URL;
 * `open` streams a stored file (BlobNotFoundError when absent).
 */
export interface ArtifactStore {
  put(key: ArtifactKey, relativePath: string, source: ArtifactSource, sha256?: string): Promise<ArtifactFile>;
  remove(key: ArtifactKey, relativePath: string): Promise<void>;
  locate(key: ArtifactKey, relativePath: string): string;
  open(key: ArtifactKey, relativePath: string): Promise<Readable>;
}
