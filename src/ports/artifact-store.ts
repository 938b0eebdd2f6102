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
 * Contract: `put` copies one file (never moves it) to `relativePath` under the cube's area and
 * returns its size and sha256 as stored; a second `put` of the same path replaces it.
 * `locate` gives the place of a stored path (file or directory) as a URL.
 */
export interface ArtifactStore {
  put(key: ArtifactKey, relativePath: string, sourceFile: string): Promise<ArtifactFile>;
  locate(key: ArtifactKey, relativePath: string): string;
}
