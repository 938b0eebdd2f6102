import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { FileLogStore } from '../../src/logs/file-log-store.js';
import { withoutCredentials } from '../../src/core/run/redact.js';
import { toErrorBody } from '../../src/server/http-errors.js';
import { PAGE_LINES as LOG_PAGE_LINES, MAX_LINE_BYTES, PAGE_BYTES } from '../../src/logs/log-pager.js';
import type { LogSink } from '../../src/ports/log-store.js';
import { tempDir } from '../helpers/repo.js';
import { SecretBox, hashToken, newToken } from '../../src/app/secret-box.js';
import {
  parseGithub,
  parseGitlab,
  verifyGithubSignature,
  verifyGitlabToken,
} from '../../src/app/webhooks.js';
import { decodePageToken, encodePageToken } from '../../src/server/routes/runs.js';

/** A real FileLogStore in a temp dir, written as the cube runner writes it. */
function storeWith(text: string | Buffer): { store: FileLogStore; sink: LogSink } {
  const store = new FileLogStore(tempDir('conveyor-logs-'));
  const sink = store.open('run', 'cube');
  sink.write(Buffer.from(text), 1000);
  return { store, sink };
}
const numbered = (n: number) => Array.from({ length: n }, (_, i) => `line ${i + 1}\n`).join('');

describe('log pages (SourceCraft paging), read by range', () => {
  it('page 1 of an empty, finished log exists, is complete and the last', async () => {
    const store = new FileLogStore(tempDir('conveyor-logs-'));
    assert.deepEqual(await store.page('run', 'none', 1, true), { lines: [], complete: true, last: true });
  });
  it('holds back an unfinished last line while the cube runs', async () => {
    const { store } = storeWith('line 1\nline 2\npart');
    const page = await store.page('run', 'cube', 1, false);
    assert.deepEqual(
      page?.lines.map((l) => l.text),
      ['line 1', 'line 2'],
    );
    assert.equal(page?.complete, false);
    assert.equal((await store.page('run', 'cube', 1, true))?.lines.length, 3, 'shown once the cube ended');
  });
  it('a page is complete once the next one has begun; the next is 404 until then', async () => {
    const { store, sink } = storeWith(numbered(LOG_PAGE_LINES));
    assert.equal(await store.page('run', 'cube', 2, false), undefined, 'page 2 has not started');
    sink.write(Buffer.from('line 1001\n'), 2000);
    const full = await store.page('run', 'cube', 1, false);
    assert.equal(full?.lines.length, LOG_PAGE_LINES);
    assert.equal(full?.complete, true);
    const second = await store.page('run', 'cube', 2, false);
    assert.deepEqual(
      second?.lines.map((l) => [l.text, l.at]),
      [['line 1001', 2000]],
    );
  });
  it('reading pages in order gives every line exactly once, with its time; only the last is `last`', async () => {
    const text = numbered(2 * LOG_PAGE_LINES + 17);
    const { store } = storeWith(text);
    const read: string[] = [];
    const lasts: boolean[] = [];
    for (let page = 1; ; page++) {
      const got = await store.page('run', 'cube', page, true);
      if (!got) break;
      read.push(...got.lines.map((l) => l.text));
      lasts.push(got.last);
      assert.ok(got.lines.every((l) => l.at === 1000));
    }
    assert.deepEqual(read, text.trimEnd().split('\n'));
    assert.deepEqual(lasts, [false, false, true]);
  });
  it('a line longer than 64 KiB comes in 64 KiB pieces, and a page holds at most 1 MiB', async () => {
    const { store } = storeWith(`${'a'.repeat(3 * MAX_LINE_BYTES + 5)}\nend\n`);
    const page = await store.page('run', 'cube', 1, true);
    assert.deepEqual(
      page?.lines.map((l) => l.text.length),
      [MAX_LINE_BYTES, MAX_LINE_BYTES, MAX_LINE_BYTES, 5, 3],
    );
    const big = storeWith(`${'b'.repeat(PAGE_BYTES * 3)}\n`).store;
    const sizes: number[] = [];
    for (let n = 1; ; n++) {
      const got = await big.page('run', 'cube', n, true);
      if (!got) break;
      sizes.push(got.lines.reduce((sum, l) => sum + l.text.length, 0));
    }
    assert.equal(
      sizes.reduce((a, b) => a + b, 0),
      3 * PAGE_BYTES,
    );
    assert.ok(
      sizes.every((size) => size <= PAGE_BYTES),
      `pages of at most 1 MiB: ${sizes.join(', ')}`,
    );
  });
});

const [A, B, H] = ['a', 'b', 'c'].map((c) => c.repeat(40)) as [string, string, string];

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
  it('page tokens round-trip, are signed, and foreign or forged ones are refused (D18)', () => {
    const box = new SecretBox('a-key-of-enough-length');
    const sign = (text: string) => box.sign(text);
    assert.equal(decodePageToken(encodePageToken(42, sign, 'repo-a'), sign, 'repo-a'), 42);
    for (const bad of [
      '',
      'garbage',
      Buffer.from('runs:v1:-1').toString('base64url'),
      Buffer.from('runs:v2:5').toString('base64url'),
      Buffer.from('runs:v1:0').toString('base64url'), // the probe's: well-formed, never issued
      encodePageToken(42, sign, 'repo-b'),
      encodePageToken(42, (t) => new SecretBox('another-key-of-enough-length').sign(t), 'repo-a'),
    ])
      assert.throws(() => decodePageToken(bad, sign, 'repo-a'), /page_token/);
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
    assert.deepEqual(parseGithub('push', { ref: 'refs/heads/main', before: A, after: B }), {
      kind: 'push',
      notice: { ref: 'refs/heads/main', before: A, after: B },
    });
    assert.deepEqual(
      parseGithub('pull_request', {
        action: 'synchronize',
        number: 7,
        pull_request: { number: 7, head: { ref: 'f', sha: H }, base: { ref: 'main' } },
      }),
      {
        kind: 'pull_request',
        notice: { number: '7', sourceBranch: 'f', targetBranch: 'main', headSha: H },
      },
    );
    assert.equal(parseGithub('pull_request', { action: 'closed' }).kind, 'ignored');
    assert.equal(parseGithub('ping', {}).kind, 'ignored');
    assert.equal(parseGithub('push', { ref: 'x' }).kind, 'ignored');
  });
  it('refuses webhook fields git would misread, and bodies of any other shape (D8, D13)', () => {
    const push = (fields: Record<string, unknown>) =>
      parseGithub('push', { ref: 'refs/heads/main', before: A, after: B, ...fields }).kind;
    assert.equal(push({ before: '--output=/tmp/pwned' }), 'invalid');
    assert.equal(push({ after: 'HEAD' }), 'invalid');
    assert.equal(push({ after: `${B}\n` }), 'invalid');
    assert.equal(push({ ref: 'refs/heads/a\nb' }), 'invalid');
    for (const body of [null, [], 'x', 5]) assert.equal(parseGithub('push', body).kind, 'ignored');
    const pr = parseGithub('pull_request', {
      action: 'opened',
      number: 1,
      pull_request: { number: 1, head: { ref: 'f', sha: 'x' }, base: { ref: 'main' } },
    });
    assert.equal(pr.kind, 'invalid');
  });
  it('reads GitLab push and merge request payloads', () => {
    assert.equal(
      parseGitlab('Tag Push Hook', { ref: 'refs/tags/v1', before: '0'.repeat(40), after: B }).kind,
      'push',
    );
    assert.deepEqual(
      parseGitlab('Merge Request Hook', {
        object_attributes: {
          action: 'open',
          iid: 3,
          source_branch: 's',
          target_branch: 't',
          last_commit: { id: H },
        },
      }),
      {
        kind: 'pull_request',
        notice: { number: '3', sourceBranch: 's', targetBranch: 't', headSha: H },
      },
    );
    assert.equal(parseGitlab('Issue Hook', {}).kind, 'ignored');
  });
});

describe('answers that must not leak or crash (D11, D19)', () => {
  it('clone URLs are shown without their credentials', () => {
    assert.equal(
      withoutCredentials('http://deploy:ghp_S3cretT0ken@127.0.0.1:8080/alpha.git'),
      'http://***@127.0.0.1:8080/alpha.git',
    );
    assert.equal(withoutCredentials('https://github.com/a/b.git'), 'https://github.com/a/b.git');
    assert.equal(withoutCredentials('git@github.com:a/b.git'), 'git@github.com:a/b.git');
  });
  it('a PostgreSQL connection lost mid-query is a 503 in the catalogue shape, not a 500', () => {
    for (const error of [
      Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }),
      new Error('Connection terminated unexpectedly'),
      Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }),
    ]) {
      const { status, body } = toErrorBody(error, 'r1');
      assert.equal(status, 503, error.message);
      assert.equal(body.error_code, 'Unavailable');
    }
    assert.equal(toErrorBody(new Error('something else'), 'r2').status, 500);
  });
});
