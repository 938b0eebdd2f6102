import { createHmac } from 'node:crypto';
import type { PullRequestNotice, PushNotice } from './git-events.js';
import { safeEqual } from './secret-box.js';

export type WebhookEvent =
  | { kind: 'push'; notice: PushNotice }
  | { kind: 'pull_request'; notice: PullRequestNotice }
  | { kind: 'ignored'; reason: string };

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
  return { kind: 'push', notice: { ref, before, after } };
}

/** A GitHub delivery (`X-GitHub-Event`) as a git event; anything else is ignored with a reason. */
export function parseGithub(event: string | undefined, payload: Json): WebhookEvent {
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
    return { kind: 'pull_request', notice: notice as PullRequestNotice };
  }
  return { kind: 'ignored', reason: `event '${event ?? ''}' is not handled` };
}

/** A GitLab delivery (`X-Gitlab-Event`): Push Hook, Tag Push Hook, Merge Request Hook. */
export function parseGitlab(event: string | undefined, payload: Json): WebhookEvent {
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
    return { kind: 'pull_request', notice: notice as PullRequestNotice };
  }
  return { kind: 'ignored', reason: `event '${event ?? ''}' is not handled` };
}
