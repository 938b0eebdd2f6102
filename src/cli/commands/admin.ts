import { randomUUID } from 'node:crypto';
import { hashToken, newToken } from '../../app/secret-box.js';
import { openDatabase } from '../../server/compose.js';
import { SqlDirectoryStore } from '../../store/sql-directory-store.js';
import { UsageError } from '../output.js';

export interface CreateUserFlags {
  dataDir?: string;
  databaseUrl?: string;
  slug: string;
  email: string;
  firstName?: string;
  lastName?: string;
  admin?: boolean;
  json?: boolean;
}

/** `conveyor admin create-user`: works on the database directly (the server may be down), prints a token. */
export async function createUserCommand(flags: CreateUserFlags): Promise<number> {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(flags.slug))
    throw new UsageError(`'${flags.slug}' is not a valid user slug`, 'use letters, digits, . _ -');
  if (!/^[^@\s]+@[^@\s]+$/.test(flags.email))
    throw new UsageError(`'${flags.email}' is not an email address`);
  const databaseUrl = flags.databaseUrl ?? process.env.CONVEYOR_DATABASE_URL;
  const db = await openDatabase({
    dataDir: flags.dataDir ?? process.env.CONVEYOR_DATA_DIR ?? './conveyor-data',
    ...(databaseUrl ? { databaseUrl } : {}),
  });
  try {
    const directory = new SqlDirectoryStore(db);
    const now = Date.now();
    const user = {
      id: randomUUID(),
      slug: flags.slug.toLowerCase(),
      email: flags.email,
      firstName: flags.firstName ?? '',
      lastName: flags.lastName ?? '',
      admin: !!flags.admin,
      createdAt: now,
    };
    await directory.insertUser(user).catch((error: unknown) => {
      throw new UsageError(error instanceof Error ? error.message : String(error), 'pick another slug');
    });
    const token = newToken();
    await directory.insertToken(
      { id: randomUUID(), userId: user.id, note: 'created by conveyor admin create-user', createdAt: now },
      hashToken(token),
    );
    if (flags.json)
      process.stdout.write(`${JSON.stringify({ id: user.id, slug: user.slug, admin: user.admin, token })}\n`);
    else
      process.stdout.write(
        `created user ${user.slug}${user.admin ? ' (administrator)' : ''}\ntoken: ${token}\n(shown once; log in with: conveyor login --server URL --token <token>)\n`,
      );
    return 0;
  } finally {
    await db.destroy();
  }
}
