import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

const OBJECT_ID = /^([0-9a-f]{40}|[0-9a-f]{64})$/;

/**
 * The commit id a branch names in a bare repository, read from its ref files without starting git:
 * the loose ref `refs/heads/<branch>`, else its line in `packed-refs`. Undefined whenever this
 * cannot tell for sure (a symbolic ref, a name git would refuse, no such ref): the caller asks git.
 * git replaces ref files by rename, so a read during a fetch sees the old id or the new one.
 */
export async function readBranchRef(gitDir: string, branch: string): Promise<string | undefined> {
  if (!plainBranchName(branch)) return undefined;
  const ref = `refs/heads/${branch}`;
  const loose = await readFile(join(gitDir, ref), 'utf8').catch(() => undefined);
  if (loose !== undefined) {
    const id = loose.trim();
    return OBJECT_ID.test(id) ? id : undefined;
  }
  const packed = await readFile(join(gitDir, 'packed-refs'), 'utf8').catch(() => '');
  for (const line of packed.split('\n')) {
    const [id = '', name] = line.split(' ');
    if (name === ref && OBJECT_ID.test(id)) return id;
  }
  return undefined;
}

/** A branch name that is safe to read as a path (a subset of what git check-ref-format allows). */
function plainBranchName(name: string): boolean {
  return (
    /^[A-Za-z0-9._/-]+$/.test(name) &&
    !name.split('/').some((part) => part === '' || part.startsWith('.') || part.endsWith('.lock')) &&
    !name.includes('..')
  );
}
