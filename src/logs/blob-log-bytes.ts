import type { BlobStore } from '../ports/blob-store.js';
import { marksIn, type LogBytes } from './log-pager.js';

/** A compacted log: its bytes and its marks (an index like FileLogStore's `.idx`) as two objects. */
export interface LogObject {
  log: string;
  idx: string;
  /** Size of the `log` object. */
  size: number;
}

/** Bytes [start, start + length) of an object of `size` bytes, read by range. */
export async function readObject(
  blobs: BlobStore,
  key: string,
  size: number,
  start: number,
  length: number,
): Promise<Buffer> {
  const end = Math.min(size, start + length);
  if (end <= start) return Buffer.alloc(0);
  const parts: Buffer[] = [];
  for await (const part of await blobs.get(key, { start, end })) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

/** LogBytes of a compacted log; each read is one ranged get (a request on S3). */
export function blobLogBytes(blobs: BlobStore, object: LogObject, key: string): LogBytes {
  return {
    key,
    size: () => Promise.resolve(object.size),
    read: (start, length) => readObject(blobs, object.log, object.size, start, length),
    marks: async (from, to) => {
      const idx = await blobs.head(object.idx);
      if (!idx) return [];
      const source = {
        size: idx.size,
        read: (position: number, length: number) => readObject(blobs, object.idx, idx.size, position, length),
      };
      // Larger probes than a file's: each probe costs a request on S3.
      return marksIn(source, from, to, 16 * 1024);
    },
  };
}
