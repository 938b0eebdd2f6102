import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ArtifactFile } from '../core/run/model.js';
import type { ArtifactKey, ArtifactStore } from '../ports/artifact-store.js';

/** Artifacts as plain files under `<dir>/<run>/<workflow>/<task>/<cube>/<path>`. */
export class LocalArtifactStore implements ArtifactStore {
  constructor(private readonly dir: string) {}

  private area(key: ArtifactKey): string {
    return join(this.dir, segment(key.runSlug), segment(key.workflow), segment(key.task), segment(key.cube));
  }

  async put(key: ArtifactKey, relativePath: string, source: Readable): Promise<ArtifactFile> {
    const target = join(this.area(key), relativePath);
    await mkdir(dirname(target), { recursive: true });
    const hash = createHash('sha256');
    let size = 0;
    source.on('data', (chunk: Buffer) => {
      hash.update(chunk);
      size += chunk.length;
    });
    await pipeline(source, createWriteStream(target));
    return { path: relativePath, size, sha256: hash.digest('hex') };
  }

  async remove(key: ArtifactKey, relativePath: string): Promise<void> {
    await rm(join(this.area(key), relativePath), { force: true });
  }

  locate(key: ArtifactKey, relativePath: string): string {
    return pathToFileURL(join(this.area(key), relativePath)).href;
  }
}

export async function digest(file: string): Promise<{ size: number; sha256: string }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(file)) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { size, sha256: hash.digest('hex') };
}

/** A name from the config as one safe path segment. */
function segment(name: string): string {
  const cleaned = name.replace(/[^A-Za-z0-9._-]/g, '_');
  return cleaned === '.' || cleaned === '..' || cleaned === '' ? `_${cleaned}` : cleaned;
}
