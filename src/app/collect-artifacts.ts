import { constants } from 'node:fs';
import { lstat, open, readlink, realpath, type FileHandle } from 'node:fs/promises';
import { isAbsolute, join, relative, sep } from 'node:path';
import picomatch from 'picomatch';
import { glob } from 'tinyglobby';
import type { ArtifactFile, ArtifactRecord } from '../core/run/model.js';
import type { ArtifactKey, ArtifactStore } from '../ports/artifact-store.js';

export interface CollectRequest {
  paths: string[];
  workspace: string;
  key: ArtifactKey;
  store: ArtifactStore;
  now: () => number;
  newId: () => string;
}

/**
 * Copies the files each declared path names (a file, a directory or a glob, relative to the
 * workspace) into the artifact store. A path that matches nothing is `missing`; one that leaves the
 * workspace (`..`, absolute, or a symlink pointing out) is refused as `failed` with the reason.
 */
export async function collectArtifacts(req: CollectRequest): Promise<ArtifactRecord[]> {
  const root = await realpath(req.workspace);
  const records: ArtifactRecord[] = [];
  for (const localPath of req.paths) {
    const at = req.now();
    const record: ArtifactRecord = {
      id: req.newId(),
      localPath,
      status: 'registered',
      registeredAt: at,
      updatedAt: at,
      files: [],
    };
    try {
      await collectOne(req, root, localPath, record);
    } catch (error) {
      record.status = 'failed';
      record.error = error instanceof Error ? error.message : String(error);
    }
    record.updatedAt = req.now();
    records.push(record);
  }
  return records;
}

async function collectOne(
  req: CollectRequest,
  root: string,
  localPath: string,
  record: ArtifactRecord,
): Promise<void> {
  if (isAbsolute(localPath) || localPath.split(/[\\/]/).includes('..')) {
    throw new Error(`artifact path '${localPath}' leaves the workspace; it was refused`);
  }
  const matches = await expand(root, localPath);
  if (matches.length === 0) {
    record.status = 'missing';
    record.error = `nothing matched '${localPath}' in the workspace`;
    return;
  }
  const files: ArtifactFile[] = [];
  try {
    for (const file of matches) {
      const handle = await openInside(root, file);
      try {
        files.push(
          await req.store.put(req.key, file, () => handle.createReadStream({ start: 0, autoClose: false })),
        );
      } finally {
        await handle.close();
      }
    }
  } catch (error) {
    // Nothing half-collected stays in the store without a record pointing at it (D19).
    await Promise.all(files.map((f) => req.store.remove(req.key, f.path).catch(() => undefined)));
    throw error;
  }
  record.files = files;
  record.status = 'success';
  record.obtainedAt = req.now();
  record.location = req.store.locate(
    req.key,
    matches.length === 1 && matches[0] === localPath ? localPath : globBase(localPath),
  );
}

async function expand(root: string, localPath: string): Promise<string[]> {
  const clean = localPath.replace(/^\.\//, '').replace(/\/+$/, '');
  if (picomatch.scan(clean).isGlob) {
    return (
      await glob([clean], {
        cwd: root,
        dot: true,
        onlyFiles: true,
        followSymbolicLinks: false,
        expandDirectories: false,
      })
    ).sort();
  }
  let stats;
  try {
    stats = await lstat(join(root, clean));
  } catch {
    return [];
  }
  if (!stats.isDirectory()) return [clean];
  const inside = await glob(['**'], {
    cwd: join(root, clean),
    dot: true,
    onlyFiles: true,
    followSymbolicLinks: false,
  });
  return inside.map((f) => `${clean}/${f}`).sort();
}

/**
 * Opens a workspace file for reading so that what is read is what was checked (D7): opened without
 * following a last-component symlink (a link is resolved and followed only into the workspace) and
 * without blocking on a FIFO; then the opened file itself is checked, through /proc/self/fd, to be
 * a regular file inside the workspace, and the bytes are copied from that descriptor. A directory
 * swapped for a link mid-collection fails the check instead of escaping.
 */
async function openInside(root: string, file: string): Promise<FileHandle> {
  const flags = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;
  let handle: FileHandle;
  try {
    handle = await open(join(root, file), flags);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ELOOP') throw error;
    // A symlink: followed only to a file inside the workspace (checked again once opened).
    const real = await realpath(join(root, file));
    if (!isWithin(root, real))
      throw new Error(`'${file}' is a symlink to ${real}, outside the workspace; it was refused`, {
        cause: error,
      });
    handle = await open(real, flags);
  }
  try {
    const opened = await readlink(`/proc/self/fd/${handle.fd}`).catch(() => realpath(join(root, file)));
    if (!isWithin(root, opened))
      throw new Error(`'${file}' is a symlink to ${opened}, outside the workspace; it was refused`);
    if (!(await handle.stat()).isFile()) throw new Error(`'${file}' is not a regular file; it was refused`);
    return handle;
  } catch (error) {
    await handle.close();
    throw error;
  }
}

function globBase(pattern: string): string {
  const base = picomatch.scan(pattern.replace(/^\.\//, '')).base;
  return base.replace(/\/+$/, '');
}

function isWithin(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (rel !== '..' && !rel.startsWith('..' + sep) && !isAbsolute(rel));
}
