/**
 * Where a GitHub Action comes from, as `action:` (or a composite step's `uses:`) names it:
 * - `owner/repo[/path]@ref`: the repository `<base>/owner/repo` at `ref`, action in `path`;
 * - `https://host/owner/repo[/path]@ref` (or http://): that git URL (SourceCraft-hosted actions). Not
 *   file:// or other schemes: the runner fetches with the server's rights, and a local path could be
 *   another repository's mirror (CONVEYOR_ACTIONS_URL, set by the administrator, may be file://);
 * - `./path`: a directory of the task's workspace;
 * - `docker://image`: a container image run as a docker action.
 */
export type ActionRef =
  | { kind: 'repo'; owner: string; repo: string; path: string; ref: string; url?: string }
  | { kind: 'local'; path: string }
  | { kind: 'docker'; image: string };

const NAME = /^[A-Za-z0-9_.-]+$/;
const REF = /^[A-Za-z0-9_.\-/+]+$/;

/** Parses an action reference; a string is an error message with what to write instead. */
export function parseActionRef(text: string): ActionRef | { error: string } {
  const value = text.trim();
  if (value.startsWith('docker://')) {
    const image = value.slice('docker://'.length);
    return image && !/\s/.test(image)
      ? { kind: 'docker', image }
      : { error: 'docker:// needs an image name' };
  }
  if (value.startsWith('./') || value === '.') {
    const path = normalize(value.slice(2));
    return path === undefined ? { error: `'${value}' leaves the workspace` } : { kind: 'local', path };
  }
  const at = value.lastIndexOf('@');
  if (at <= 0 || at === value.length - 1)
    return { error: `'${value}' has no @ref: write owner/repo@v1 (a tag, branch or commit)` };
  const ref = value.slice(at + 1);
  if (!REF.test(ref) || ref.split('/').includes('..')) return { error: `'${ref}' is not a git ref` };
  const source = value.slice(0, at);
  if (/^[a-z][a-z0-9+.-]*:/i.test(source) && !/^https?:\/\//i.test(source))
    return { error: `'${value}': only https:// (or http://) URLs name actions by URL` };
  const url = /^https?:\/\//i.test(source) ? source : undefined;
  const parts = (url ? new URL(url).pathname.replace(/^\/+/, '') : source).split('/');
  const [owner, repo, ...rest] = parts;
  if (!owner || !repo || !NAME.test(owner) || !NAME.test(repo) || repo === '..' || owner === '..')
    return { error: `'${value}' is not owner/repo[/path]@ref` };
  const path = normalize(rest.join('/'));
  if (path === undefined) return { error: `the path of '${value}' leaves the action's repository` };
  if (url) {
    // The action's repository is the URL up to owner/repo; anything after it is the path.
    const base = url.slice(0, url.length - (rest.length ? rest.join('/').length + 1 : 0));
    return { kind: 'repo', owner, repo: repo.replace(/\.git$/, ''), path, ref, url: base };
  }
  return { kind: 'repo', owner, repo, path, ref };
}

/** A relative path without `.` segments; undefined when it climbs out with `..`. */
function normalize(path: string): string | undefined {
  const out: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') return undefined;
    out.push(part);
  }
  return out.join('/');
}

/** How a reference is shown in logs: `owner/repo/path@ref`. */
export function describeActionRef(ref: ActionRef): string {
  if (ref.kind === 'docker') return `docker://${ref.image}`;
  if (ref.kind === 'local') return `./${ref.path}`;
  return `${ref.owner}/${ref.repo}${ref.path ? `/${ref.path}` : ''}@${ref.ref}`;
}
