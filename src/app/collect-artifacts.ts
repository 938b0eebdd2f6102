import { lstat, realpath } from 'node:fs/promises';
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
  for (const file of matches) {
    const source = join(root, file);
    const real = await realpath(source);
    if (!isWithin(root, real)) {
      throw new Error(`'${file}' is a symlink to ${real}, outside the workspace; it was refused`);
    }
    files.push(await req.store.put(req.key, file, real));
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

function globBase(pattern: string): string {
  const base = picomatch.scan(pattern.replace(/^\.\//, '')).base;
  return base.replace(/\/+$/, '');
}

function isWithin(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (rel !== '..' && !rel.startsWith('..' + sep) && !isAbsolute(rel));
}
