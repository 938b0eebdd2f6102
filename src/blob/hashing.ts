import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { BlobChecksumError } from '../ports/blob-store.js';

/**
 * Passes bytes through while counting and hashing them. With `expected`, the stream fails at its
 * end when the digest differs, before the last byte reaches the consumer's completion: drivers
 * commit an object (rename, complete the multipart upload) only after the stream ended cleanly, so
 * a mismatch stores nothing.
 */
export class HashingStream extends Transform {
  bytes = 0;
  sha256 = '';
  private readonly hash = createHash('sha256');

  constructor(private readonly expected?: string) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    this.sha256 = this.hash.digest('hex');
    if (this.expected !== undefined && this.expected !== this.sha256)
      callback(new BlobChecksumError(`the bytes hash to ${this.sha256}, not the ${this.expected} expected`));
    else callback();
  }
}
