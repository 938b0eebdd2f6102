import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { ConflictError } from '../../src/ports/errors.js';
import type { DirectoryStore, Repo, User } from '../../src/ports/directory-store.js';

function user(slug: string, admin = false): User {
  return {
    id: randomUUID(),
    slug,
    email: `${slug}@example.com`,
    firstName: 'F',
    lastName: 'L',
    admin,
    createdAt: 1,
  };
}

/** The behaviour every DirectoryStore adapter must have. */
export function directoryStoreContract(
  name: string,
  open: () => Promise<{ store: DirectoryStore; close: () => Promise<void> }>,
): void {
  describe(`DirectoryStore contract: ${name}`, () => {
    let store: DirectoryStore;
    let close: () => Promise<void>;
    before(async () => ({ store, close } = await open()));
    after(async () => close());

    it('stores users, refuses a taken slug, counts them', async () => {
      const alice = user('alice', true);
      await store.insertUser(alice);
      await assert.rejects(store.insertUser(user('alice')), ConflictError);
      assert.deepEqual(await store.findUserBySlug('alice'), alice);
      assert.deepEqual(await store.findUserById(alice.id), alice);
      assert.equal(await store.findUserBySlug('nobody'), undefined);
      assert.equal(await store.countUsers(), 1);
    });

    it('finds tokens by hash only, lists and revokes them', async () => {
      const bob = user('bob');
      await store.insertUser(bob);
      const token = { id: randomUUID(), userId: bob.id, note: 'ci', createdAt: 5, expiresAt: 99 };
      await store.insertToken(token, 'hash-1');
      assert.deepEqual(await store.findTokenByHash('hash-1'), token);
      assert.equal(await store.findTokenByHash('hash-2'), undefined);
      assert.equal(await store.revokeToken(randomUUID(), token.id, 7), false, 'only the owner revokes');
      assert.equal(await store.revokeToken(bob.id, token.id, 7), true);
      assert.equal(await store.revokeToken(bob.id, token.id, 8), false, 'revoking twice changes nothing');
      assert.equal((await store.findTokenByHash('hash-1'))?.revokedAt, 7);
      assert.equal((await store.listTokens(bob.id)).length, 1);
    });

    it('keeps organizations, their admins, repositories and roles', async () => {
      const owner = user('owner');
      const dev = user('dev');
      await store.insertUser(owner);
      await store.insertUser(dev);
      const org = { id: randomUUID(), slug: 'acme', name: 'Acme', createdAt: 1 };
      await store.insertOrg(org, owner.id);
      await assert.rejects(store.insertOrg({ ...org, id: randomUUID() }, owner.id), ConflictError);
      assert.equal(await store.orgRole(org.id, owner.id), 'admin');
      assert.equal(await store.orgRole(org.id, dev.id), undefined);
      const repo: Repo = {
        id: randomUUID(),
        orgId: org.id,
        orgSlug: 'acme',
        slug: 'app',
        name: 'App',
        description: '',
        visibility: 'private',
        cloneUrl: '/tmp/x',
        defaultBranch: 'main',
        pollIntervalMs: 0,
        webhookSecretEnc: 'enc',
        createdAt: 3,
      };
      await store.insertRepo(repo);
      await assert.rejects(store.insertRepo({ ...repo, id: randomUUID() }), ConflictError);
      assert.deepEqual(await store.findRepo('acme', 'app'), repo);
      assert.deepEqual(await store.findRepoById(repo.id), repo);
      assert.deepEqual(
        (await store.listRepos(org.id)).map((r) => r.slug),
        ['app'],
      );
      assert.ok((await store.listAllRepos()).some((r) => r.id === repo.id));
      await store.setRepoRole(repo.id, dev.id, 'developer');
      assert.equal(await store.repoRole(repo.id, dev.id), 'developer');
      await store.setRepoRole(repo.id, dev.id, 'viewer');
      assert.deepEqual(
        (await store.listRepoRoles(repo.id)).map((r) => [r.user.slug, r.role]),
        [['dev', 'viewer']],
      );
      await store.setRepoRole(repo.id, dev.id, undefined);
      assert.equal(await store.repoRole(repo.id, dev.id), undefined);
    });

    it('keeps secrets per scope, lists names, deletes', async () => {
      const scope = randomUUID();
      await store.putSecret('repo', scope, 'A', 'enc-a', 1);
      await store.putSecret('repo', scope, 'A', 'enc-a2', 2);
      await store.putSecret('org', scope, 'B', 'enc-b', 1);
      assert.deepEqual(await store.listSecrets('repo', scope), [{ name: 'A', updatedAt: 2 }]);
      assert.deepEqual(await store.secretValues('repo', scope), { A: 'enc-a2' });
      assert.equal(await store.deleteSecret('repo', scope, 'A'), true);
      assert.equal(await store.deleteSecret('repo', scope, 'A'), false);
      assert.deepEqual(await store.secretValues('org', scope), { B: 'enc-b' });
    });

    it('claims a schedule slot exactly once, also when asked at the same time', async () => {
      const repo = randomUUID();
      const claims = await Promise.all(
        Array.from({ length: 8 }, () => store.claimScheduleSlot(repo, 'rule', 60_000)),
      );
      assert.equal(claims.filter(Boolean).length, 1);
      assert.equal(await store.claimScheduleSlot(repo, 'rule', 120_000), true);
      assert.equal(await store.claimScheduleSlot(repo, 'other', 60_000), true);
    });

    it('remembers polled refs', async () => {
      const repo = randomUUID();
      assert.equal(await store.getPollState(repo), undefined);
      await store.setPollState(repo, { 'refs/heads/main': 'a' });
      await store.setPollState(repo, { 'refs/heads/main': 'b' });
      assert.deepEqual(await store.getPollState(repo), { 'refs/heads/main': 'b' });
    });
  });
}
