import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { LOG_PAGE_LINES, logPage } from '../../src/app/log-pages.js';
import { SecretBox, hashToken, newToken } from '../../src/app/secret-box.js';
import {
  parseGithub,
  parseGitlab,
  verifyGithubSignature,
  verifyGitlabToken,
} from '../../src/app/webhooks.js';
import { decodePageToken, encodePageToken } from '../../src/server/routes/runs.js';

const lines = (n: number) => Array.from({ length: n }, (_, i) => ({ at: i, text: `line ${i + 1}` }));

describe('log pages (SourceCraft paging)', () => {
  it('page 1 of an empty, finished log exists and is complete', () => {
    assert.deepEqual(logPage([], 1, true), { lines: [], pageComplete: true, done: true });
  });
  it('holds back the last line while the cube runs', () => {
    const page = logPage(lines(3), 1, false);
    assert.deepEqual(
      page?.lines.map((l) => l.text),
      ['line 1', 'line 2'],
    );
    assert.equal(page?.pageComplete, false);
  });
  it('a page is complete once the next one has begun; the next is 404 until then', () => {
    assert.equal(logPage(lines(LOG_PAGE_LINES + 1), 2, false), undefined, 'page 2 has not started');
    const full = logPage(lines(LOG_PAGE_LINES + 2), 1, false);
    assert.equal(full?.lines.length, LOG_PAGE_LINES);
    assert.equal(full?.pageComplete, true);
    assert.deepEqual(
      logPage(lines(LOG_PAGE_LINES + 2), 2, false)?.lines.map((l) => l.text),
      [`line ${LOG_PAGE_LINES + 1}`],
    );
  });
  it('reading pages in order gives every line exactly once', () => {
    const all = lines(2 * LOG_PAGE_LINES + 17);
    const read = [];
    for (let page = 1; ; page++) {
      const got = logPage(all, page, true);
      if (!got) break;
      read.push(...got.lines);
    }
    assert.deepEqual(read, all);
  });
});

describe('secrets and tokens', () => {
  it('encrypts so that only the same key decrypts, and detects tampering', () => {
    const box = new SecretBox('a-key-of-enough-length');
    const stored = box.encrypt('p@ss wörd');
    assert.doesNotMatch(stored, /p@ss/);
    assert.notEqual(box.encrypt('p@ss wörd'), stored, 'a fresh IV each time');
    assert.equal(box.decrypt(stored), 'p@ss wörd');
    assert.throws(() => new SecretBox('another-key-of-enough-length').decrypt(stored));
    const parts = stored.split(':');
    parts[3] = Buffer.from('tampered').toString('base64url');
    assert.throws(() => box.decrypt(parts.join(':')));
    assert.throws(() => new SecretBox('short'), /16 bytes/);
  });
  it('signs and verifies', () => {
    const box = new SecretBox('a-key-of-enough-length');
    assert.equal(box.verify('payload', box.sign('payload')), true);
    assert.equal(box.verify('payload2', box.sign('payload')), false);
  });
  it('makes distinct tokens and hashes them one way', () => {
    const a = newToken();
    assert.match(a, /^cvy_[A-Za-z0-9_-]{43}$/);
    assert.notEqual(a, newToken());
    assert.equal(hashToken(a), hashToken(a));
    assert.ok(!hashToken(a).includes(a.slice(4, 20)));
  });
  it('page tokens round-trip and foreign ones are refused', () => {
    assert.equal(decodePageToken(encodePageToken(42)), 42);
    for (const bad of [
      '',
      'garbage',
      Buffer.from('runs:v1:-1').toString('base64url'),
      Buffer.from('runs:v2:5').toString('base64url'),
    ])
      assert.throws(() => decodePageToken(bad), /page_token/);
  });
});

describe('webhooks', () => {
  const body = Buffer.from('{"ref":"refs/heads/main"}');
  it('verifies GitHub signatures over the raw body', () => {
    const good = `sha256=${createHmac('sha256', 's3cret').update(body).digest('hex')}`;
    assert.equal(verifyGithubSignature('s3cret', body, good), true);
    assert.equal(verifyGithubSignature('other', body, good), false);
    assert.equal(verifyGithubSignature('s3cret', Buffer.from(`${body.toString()} `), good), false);
    assert.equal(verifyGithubSignature('s3cret', body, undefined), false);
    assert.equal(verifyGithubSignature('s3cret', body, good.replace('sha256=', 'sha1=')), false);
  });
  it('verifies GitLab tokens', () => {
    assert.equal(verifyGitlabToken('tok', 'tok'), true);
    assert.equal(verifyGitlabToken('tok', 'to'), false);
    assert.equal(verifyGitlabToken('tok', undefined), false);
  });
  it('reads GitHub push and pull_request payloads', () => {
    assert.deepEqual(parseGithub('push', { ref: 'refs/heads/main', before: 'a', after: 'b' }), {
      kind: 'push',
      notice: { ref: 'refs/heads/main', before: 'a', after: 'b' },
    });
    assert.deepEqual(
      parseGithub('pull_request', {
        action: 'synchronize',
        number: 7,
        pull_request: { number: 7, head: { ref: 'f', sha: 'h' }, base: { ref: 'main' } },
      }),
      {
        kind: 'pull_request',
        notice: { number: '7', sourceBranch: 'f', targetBranch: 'main', headSha: 'h' },
      },
    );
    assert.equal(parseGithub('pull_request', { action: 'closed' }).kind, 'ignored');
    assert.equal(parseGithub('ping', {}).kind, 'ignored');
    assert.equal(parseGithub('push', { ref: 'x' }).kind, 'ignored');
  });
  it('reads GitLab push and merge request payloads', () => {
    assert.equal(parseGitlab('Tag Push Hook', { ref: 'refs/tags/v1', before: '0', after: 'b' }).kind, 'push');
    assert.deepEqual(
      parseGitlab('Merge Request Hook', {
        object_attributes: {
          action: 'open',
          iid: 3,
          source_branch: 's',
          target_branch: 't',
          last_commit: { id: 'c' },
        },
      }),
      {
        kind: 'pull_request',
        notice: { number: '3', sourceBranch: 's', targetBranch: 't', headSha: 'c' },
      },
    );
    assert.equal(parseGitlab('Issue Hook', {}).kind, 'ignored');
  });
});
