import { randomUUID } from 'node:crypto';
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { Readable, pipeline } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  BlobNotFoundError,
  RESERVED,
  assertBlobKey,
  assertBlobPrefix,
  type BlobInfo,
  type BlobStore,
  type ByteRange,
  type PutOptions,
  type StoredBlob,
} from '../ports/blob-store.js';
import { HashingStream } from './hashing.js';

/**
 * Objects as files under a root directory (`file:///path`; the data dir by default), the key being
 * the path below it, so replicas can share a mounted directory. A put writes a temporary file in
 * `<root>/.blob-tmp/`, fsyncs it and renames it over the target: readers never see a part, and a
 * crash leaves at most a temporary file. Directories are 0700 and files 0600 (docs/security.md, S3).
 */
export class FileBlobStore implements BlobStore {
  readonly kind = 'file';

  constructor(readonly root: string) {}

  private path(key: string): string {
    assertBlobKey(key);
    return join(this.root, ...key.split('/'));
  }

  async put(key: string, source: Readable, options: PutOptions = {}): Promise<StoredBlob> {
    const target = this.path(key);
    const tmpDir = join(this.root, RESERVED);
    await mkdir(tmpDir, { recursive: true, mode: 0o700 });
    const tmp = join(tmpDir, randomUUID());
    const hashing = new HashingStream(options.sha256);
    const handle = await open(tmp, 'wx', 0o600);
    try {
      // pipeline (not pipe) so an error of `source` reaches the loop below instead of hanging it.
      for await (const chunk of pipeline(source, hashing, () => undefined))
        await handle.write(chunk as Buffer);
      await handle.sync();
      await handle.close();
      await mkdir(dirname(target), { recursive: true, mode: 0o700 });
      await rename(tmp, target);
    } catch (error) {
      await handle.close().catch(() => undefined);
      await rm(tmp, { force: true });
      throw error;
    }
    return { key, size: hashing.bytes, sha256: hashing.sha256 };
  }

  async get(key: string, range: ByteRange = { start: 0 }): Promise<Readable> {
    const path = this.path(key);
    const handle = await open(path, 'r').catch((error: NodeJS.ErrnoException) => {
      throw error.code === 'ENOENT' || error.code === 'ENOTDIR' || error.code === 'EISDIR'
        ? new BlobNotFoundError(`no object ${key}`)
        : error;
    });
    if (!(await handle.stat()).isFile()) {
      await handle.close();
      throw new BlobNotFoundError(`no object ${key}`);
    }
    if (range.end !== undefined && range.end <= range.start) {
      await handle.close();
      return Readable.from([]);
    }
    return handle.createReadStream({
      start: range.start,
      ...(range.end !== undefined ? { end: range.end - 1 } : {}),
    });
  }

  async head(key: string): Promise<BlobInfo | undefined> {
    const info = await stat(this.path(key)).catch(() => undefined);
    return info?.isFile() ? { key, size: info.size } : undefined;
  }

  async delete(key: string): Promise<void> {
    await rm(this.path(key), { force: true });
  }

  async *list(prefix: string): AsyncIterable<BlobInfo> {
    assertBlobPrefix(prefix);
    const cut = prefix.lastIndexOf('/');
    const base = cut < 0 ? '' : prefix.slice(0, cut);
    const keys: string[] = [];
    await this.walk(base, prefix, keys);
    keys.sort();
    for (const key of keys) {
      const info = await this.head(key);
      if (info) yield info;
    }
  }

  private async walk(dir: string, prefix: string, out: string[]): Promise<void> {
    const entries = await readdir(dir === '' ? this.root : this.path(dir), { withFileTypes: true }).catch(
      () => [],
    );
    for (const entry of entries) {
      const key = dir === '' ? entry.name : `${dir}/${entry.name}`;
      if (dir === '' && entry.name === RESERVED) continue;
      // Only descend where keys with the prefix can be.
      if (!key.startsWith(prefix) && !prefix.startsWith(`${key}/`)) continue;
      if (entry.isDirectory()) await this.walk(key, prefix, out);
      else if (entry.isFile() && key.startsWith(prefix)) out.push(key);
    }
  }

  downloadUrl(): Promise<string | undefined> {
    return Promise.resolve(undefined);
  }

  url(key: string): string {
    return pathToFileURL(this.path(key)).href;
  }

  keyOf(url: string): string | undefined {
    if (!url.startsWith('file:')) return undefined;
    const rel = relative(this.root, fileURLToPath(url));
    if (rel === '' || rel === '..' || rel.startsWith(`..${sep}`) || rel.startsWith(sep)) return undefined;
    const key = rel.split(sep).join('/');
    try {
      assertBlobKey(key);
      return key;
    } catch {
      return undefined;
    }
  }

  close(): void {}
}
