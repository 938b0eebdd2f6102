import { createHmac } from 'node:crypto';
import type { PullRequestNotice, PushNotice } from './git-events.js';
import { safeEqual } from './secret-box.js';

export type WebhookEvent =
  | { kind: 'push'; notice: PushNotice }
  | { kind: 'pull_request'; notice: PullRequestNotice }
  | { kind: 'ignored'; reason: string }
  /** A body no Git host sends (a 400 with the reason): a wrong shape, a commit that is not an id. */
  | { kind: 'invalid'; reason: string };

/** A full commit id (SHA-1 or SHA-256, hex); webhook fields reach git only when they are one (D8). */
const COMMIT = /^([0-9a-f]{40}|[0-9a-f]{64})$/;

/** GitHub signs the raw body: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256>`. */
export function verifyGithubSignature(secret: string, body: Buffer, header: string | undefined): boolean {
  if (!header?.startsWith('sha256=')) return false;
  const expected = `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
  return safeEqual(expected, header);
}

/** GitLab sends the configured secret as `X-Gitlab-Token`. */
export function verifyGitlabToken(secret: string, header: string | undefined): boolean {
  return header !== undefined && safeEqual(secret, header);
}

type Json = Record<string, unknown>;
const str = (v: unknown): string | undefined =>
  typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined;
const obj = (v: unknown): Json => (v !== null && typeof v === 'object' ? (v as Json) : {});

/** GitHub and GitLab push payloads share `ref`, `before` and `after`. */
function pushEvent(payload: Json): WebhookEvent {
  const ref = str(payload.ref);
  const before = str(payload.before);
  const after = str(payload.after);
  if (!ref || !before || !after) return { kind: 'ignored', reason: 'push payload without ref/before/after' };
  for (const [name, value] of [
    ['before', before],
    ['after', after],
  ] as const)
    if (!COMMIT.test(value) && !(name === 'before' && /^0+$/.test(value)))
      return {
        kind: 'invalid',
        reason: `push payload: '${name}' must be a full commit id (40 or 64 hex digits)`,
      };
  if (hasControl(ref) || !ref.startsWith('refs/'))
    return { kind: 'invalid', reason: "push payload: 'ref' must be a ref name such as refs/heads/main" };
  return { kind: 'push', notice: { ref, before, after } };
}

/** A GitHub delivery (`X-GitHub-Event`) as a git event; anything else is ignored with a reason. */
export function parseGithub(event: string | undefined, body: unknown): WebhookEvent {
  const payload = obj(body);
  if (event === 'ping') return { kind: 'ignored', reason: 'ping' };
  if (event === 'push') return pushEvent(payload);
  if (event === 'pull_request') {
    const action = str(payload.action);
    if (!['opened', 'synchronize', 'reopened'].includes(action ?? ''))
      return { kind: 'ignored', reason: `pull_request action '${action ?? ''}'` };
    const pr = obj(payload.pull_request);
    const head = obj(pr.head);
    const base = obj(pr.base);
    const notice = {
      number: str(pr.number) ?? str(payload.number),
      sourceBranch: str(head.ref),
      targetBranch: str(base.ref),
      headSha: str(head.sha),
    };
    if (!notice.number || !notice.sourceBranch || !notice.targetBranch || !notice.headSha)
      return { kind: 'ignored', reason: 'pull_request payload without head/base' };
    return checkedPullRequest(notice as PullRequestNotice);
  }
  return { kind: 'ignored', reason: `event '${event ?? ''}' is not handled` };
}

/** A GitLab delivery (`X-Gitlab-Event`): Push Hook, Tag Push Hook, Merge Request Hook. */
export function parseGitlab(event: string | undefined, body: unknown): WebhookEvent {
  const payload = obj(body);
  if (event === 'Push Hook' || event === 'Tag Push Hook') return pushEvent(payload);
  if (event === 'Merge Request Hook') {
    const attrs = obj(payload.object_attributes);
    const action = str(attrs.action);
    if (!['open', 'update', 'reopen'].includes(action ?? ''))
      return { kind: 'ignored', reason: `merge request action '${action ?? ''}'` };
    const notice = {
      number: str(attrs.iid),
      sourceBranch: str(attrs.source_branch),
      targetBranch: str(attrs.target_branch),
      headSha: str(obj(attrs.last_commit).id),
    };
    if (!notice.number || !notice.sourceBranch || !notice.targetBranch || !notice.headSha)
      return { kind: 'ignored', reason: 'merge request payload without branches/commit' };
    return checkedPullRequest(notice as PullRequestNotice);
  }
  return { kind: 'ignored', reason: `event '${event ?? ''}' is not handled` };
}

function checkedPullRequest(notice: PullRequestNotice): WebhookEvent {
  if (!COMMIT.test(notice.headSha))
    return { kind: 'invalid', reason: 'pull request payload: the head commit must be a full commit id' };
  for (const branch of [notice.sourceBranch, notice.targetBranch])
    if (hasControl(branch) || branch.startsWith('-'))
      return { kind: 'invalid', reason: `pull request payload: '${branch}' is not a branch name` };
  return { kind: 'pull_request', notice };
}

/** Whether a name holds control characters (a newline in a ref would reach git as a second line). */
function hasControl(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}
