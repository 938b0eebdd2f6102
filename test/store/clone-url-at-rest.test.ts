import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Kysely } from 'kysely';
import { SecretBox } from '../../src/app/secret-box.js';
import type { Repo } from '../../src/ports/directory-store.js';
import { openPostgresDb } from '../../src/store/postgres.js';
import type { Database } from '../../src/store/schema.js';
import { SqlDirectoryStore } from '../../src/store/sql-directory-store.js';
import { openSqliteDb } from '../../src/store/sqlite.js';
import { tempPostgresUrl } from '../helpers/postgres.js';
import { tempDir } from '../helpers/repo.js';

const TOKEN = 'ghp_S3cretT0ken';
const URL_WITH_TOKEN = `http://deploy:${TOKEN}@127.0.0.1:8080/alpha.git`;

for (const [name, open] of [
  ['SQLite', () => openSqliteDb(join(tempDir(), 'conveyor.db'))],
  ['PostgreSQL', async () => openPostgresDb(await tempPostgresUrl())],
] as const) {
  describe(`clone URL credentials at rest (D11): ${name}`, () => {
    it('are stored encrypted, read back as given, and old plain rows are sealed at start-up', async () => {
      const db: Kysely<Database> = await open();
      try {
        const box = new SecretBox(SecretBox.generateKey());
        const store = new SqlDirectoryStore(db, box);
        const owner = {
          id: randomUUID(),
          slug: 'o',
          email: 'o@x.y',
          firstName: '',
          lastName: '',
          admin: true,
          createdAt: 1,
        };
        await store.insertUser(owner);
        const org = { id: randomUUID(), slug: 'acme', name: 'Acme', createdAt: 1 };
        await store.insertOrg(org, owner.id);
        const repo = (slug: string, cloneUrl: string): Repo => ({
          id: randomUUID(),
          orgId: org.id,
          orgSlug: 'acme',
          slug,
          name: slug,
          description: '',
          visibility: 'private',
          cloneUrl,
          defaultBranch: 'main',
          pollIntervalMs: 0,
          webhookSecretEnc: 'enc',
          createdAt: 2,
        });
        const stored = async (id: string) =>
          (await db.selectFrom('repos').select('clone_url').where('id', '=', id).executeTakeFirstOrThrow())
            .clone_url;

        const cred = repo('cred', URL_WITH_TOKEN);
        await store.insertRepo(cred);
        assert.doesNotMatch(await stored(cred.id), new RegExp(TOKEN), 'the token is not in the database');
        assert.equal((await store.findRepo('acme', 'cred'))?.cloneUrl, URL_WITH_TOKEN);
        await store.updateRepo({ ...cred, name: 'renamed' });
        assert.doesNotMatch(await stored(cred.id), new RegExp(TOKEN), 'nor after an update');

        const plain = repo('plain', 'https://example.com/a.git');
        await store.insertRepo(plain);
        assert.equal(await stored(plain.id), plain.cloneUrl, 'a URL without credentials stays readable');

        // A row written before clone URLs were encrypted.
        const old = repo('old', URL_WITH_TOKEN);
        await new SqlDirectoryStore(db).insertRepo(old);
        assert.match(await stored(old.id), new RegExp(TOKEN));
        assert.equal(await store.sealStoredCredentials(), 1);
        assert.doesNotMatch(await stored(old.id), new RegExp(TOKEN));
        assert.equal((await store.findRepoById(old.id))?.cloneUrl, URL_WITH_TOKEN);
        assert.equal(await store.sealStoredCredentials(), 0, 'sealing twice changes nothing');
        await assert.rejects(new SqlDirectoryStore(db).findRepoById(old.id), /server key/);
      } finally {
        await db.destroy();
      }
    });
  });
}
