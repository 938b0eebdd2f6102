import type { CommitInfo } from '../core/run/model.js';
import type { WorkspaceProvider } from './workspace-provider.js';

export interface Revision {
  branch?: string;
  tag?: string;
  commit?: string;
}

/**
 * The server's copies of registered repositories.
 *
 * Contract: `sync` fetches every branch and tag from the clone URL (serialized per repository;
 * concurrent calls share one fetch; with `maxAgeMs`, a fetch that started less than that long ago
 * counts as fresh enough and nothing is fetched) and throws an Error with git's message when the remote cannot be
 * read. `resolve` throws when the revision does not exist. `readFile` returns undefined for a path
 * missing at that commit, and throws FileTooLarge for a file over the limit it was given (never
 * reading it whole). `changedPaths` returns undefined when it cannot tell (unknown `from`).
 * `workspaces` gives task checkouts of one commit.
 */
export interface RepoMirrors {
  sync(repoId: string, cloneUrl: string, maxAgeMs?: number): Promise<void>;
  /** With `prefetch`, also reads those files at the commit so a following `readFile` is free. */
  resolve(repoId: string, revision: Revision, prefetch?: readonly string[]): Promise<CommitInfo>;
  /** Fetches when the mirror lacks the commit; throws when the remote lacks it too. */
  ensureCommit(repoId: string, cloneUrl: string, sha: string): Promise<void>;
  readFile(repoId: string, sha: string, path: string, maxBytes?: number): Promise<string | undefined>;
  changedPaths(repoId: string, from: string, to: string): Promise<string[] | undefined>;
  /**
   * The branch the remote's HEAD names (after a `sync`); without one, the only branch, else `main`
   * or `master` when present; undefined when it cannot tell.
   */
  remoteDefaultBranch(repoId: string, cloneUrl: string): Promise<string | undefined>;
  /** Branches (`refs/heads/x`) and tags (`refs/tags/x`) with their commit. */
  listRefs(repoId: string): Promise<Record<string, string>>;
  /** Task checkouts of one commit; `attach` copies a directory into each workspace (as a relative path). */
  workspaces(
    repoId: string,
    sha: string,
    runId: string,
    attach?: { from: string; as: string },
  ): WorkspaceProvider;
}

/** A file larger than the reader's limit (a 50 MB ci.yaml): refused before it is read. */
export class FileTooLarge extends Error {
  constructor(
    readonly path: string,
    readonly size: number,
    readonly limit: number,
  ) {
    super(`${path} is ${size} bytes; the limit is ${limit} bytes`);
  }
}
