/** An action repository at a ref, as an `action:` reference names it (see core/actions/action-ref.ts). */
export interface ActionRepoRef {
  owner: string;
  repo: string;
  ref: string;
  /** A git URL given in full (`https://host/org/repo@ref`); otherwise `<base>/owner/repo`. */
  url?: string;
}

export interface FetchedAction {
  /** The action repository's files at the resolved commit (no .git), inside the task directory. */
  dir: string;
  /** The commit `ref` resolved to. */
  sha: string;
  /** Said in the cube log: where it came from, whether from the cache. */
  note: string;
}

/**
 * Where GitHub Actions come from: git repositories under a base URL (CONVEYOR_ACTIONS_URL, default
 * https://github.com).
 *
 * Contract: `fetch` resolves `ref` to a commit, keeps that commit's files in a cache keyed by the
 * commit (a second fetch of the same commit reads no network but the ref resolution), and copies
 * them to `<into>/<owner>/<repo>/<sha>`, a fresh copy the cube may change without touching the
 * cache. It throws an Error whose message says what failed (unknown repository, unknown ref, no
 * network) and what to do.
 */
export interface ActionSource {
  fetch(ref: ActionRepoRef, into: string): Promise<FetchedAction>;
}

/**
 * Builds images for docker actions with a Dockerfile, with the container runtime cubes use.
 *
 * Contract: `ensure` builds `dockerfile` in `contextDir` as `tag` unless an image of that tag exists
 * (tags name the action commit, so an existing tag is the same build). Build output goes to
 * `onOutput`. It resolves with an error message instead of throwing.
 */
export interface ImageBuilder {
  ensure(
    tag: string,
    contextDir: string,
    dockerfile: string,
    onOutput: (chunk: Buffer) => void,
  ): Promise<{ built: boolean; error?: string }>;
}
