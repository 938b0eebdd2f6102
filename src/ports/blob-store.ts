import type { Readable } from 'node:stream';

/** What a `put` stored: the key, its size and the sha256 (hex) of the bytes as stored. */
export interface StoredBlob {
  key: string;
  size: number;
  sha256: string;
}

/** A stored object as `head` and `list` see it. */
export interface BlobInfo {
  key: string;
  size: number;
}

export interface PutOptions {
  /** The sha256 (hex) the caller expects; a mismatch stores nothing and throws BlobChecksumError. */
  sha256?: string;
}

/** Bytes [start, end) of an object; `end` past the object's size reads to its end. */
export interface ByteRange {
  start: number;
  end?: number;
}

/** The object (or the store's root) does not exist. */
export class BlobNotFoundError extends Error {
  readonly code = 'NotFound';
}

/** The bytes did not hash to the sha256 the caller expected; nothing was stored. */
export class BlobChecksumError extends Error {
  readonly code = 'ChecksumMismatch';
}

/**
 * The store cannot be reached (connection refused, timeout, 5xx, throttling): the same call may
 * succeed later. Drivers translate their transport errors to this so callers can retry or answer
 * 503 without knowing the driver.
 */
export class BlobUnavailableError extends Error {
  readonly code = 'Unavailable';
}

/**
 * Storage of immutable byte objects by key (logs once a cube ends, artifacts), shared by every
 * replica: a directory (mounted on each) or an S3 bucket.
 *
 * Keys are `/`-separated relative paths (UTF-8, at most 1000 bytes, no control characters, no
 * empty, `.` or `..` segment, not under `.blob-tmp/`); `assertBlobKey` checks them and every
 * driver calls it. Artifact keys keep the file names a cube wrote, so any other character is allowed.
 *
 * Contract:
 * - `put` consumes `source` to its end and stores it under `key` atomically: a reader sees the old
 *   object or the whole new one, never a part; a failed put (source error, checksum mismatch, store
 *   unreachable) leaves the previous object, or none. It returns the size and sha256 of what it stored.
 *   Large objects are sent in parts (`partSize`) by drivers whose backend needs it; the caller
 *   just streams. Concurrent puts of one key: one of them wins whole.
 * - `get` streams bytes of a stored object, all of them or a range; BlobNotFoundError when absent
 *   (thrown by the call itself, not later by the stream).
 * - `head` is the size of a stored object, or undefined; `delete` removes one and is idempotent.
 * - `list` yields the objects whose key starts with `prefix`, sorted by key.
 * - `downloadUrl` is a temporary URL a client can fetch without other credentials, for drivers whose
 *   backend can sign one (S3); undefined otherwise (the server then serves the bytes itself).
 * - Transport failures are BlobUnavailableError; a rejected key is a TypeError.
 * - `url`/`keyOf` name an object as a URL (what artifact records keep) and back; `keyOf` is
 *   undefined for a URL outside this store.
 */
export interface BlobStore {
  readonly kind: 'file' | 's3';
  put(key: string, source: Readable, options?: PutOptions): Promise<StoredBlob>;
  get(key: string, range?: ByteRange): Promise<Readable>;
  head(key: string): Promise<BlobInfo | undefined>;
  delete(key: string): Promise<void>;
  list(prefix: string): AsyncIterable<BlobInfo>;
  downloadUrl(key: string, options: { expiresInS: number; filename?: string }): Promise<string | undefined>;
  url(key: string): string;
  keyOf(url: string): string | undefined;
  /** Releases connections (S3 sockets); the store is not used after. */
  close(): void;
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x1f\x7f]/;

/** Throws a TypeError unless `key` is a valid blob key (see BlobStore). */
export function assertBlobKey(key: string): void {
  const segments = key.split('/');
  const ok =
    Buffer.byteLength(key) <= 1000 &&
    !CONTROL.test(key) &&
    segments[0] !== RESERVED &&
    segments.every((s) => s !== '' && s !== '.' && s !== '..');
  if (!ok) throw new TypeError(`'${key}' is not a valid blob key`);
}

/** A first segment drivers keep for themselves (the filesystem driver's temporary files). */
export const RESERVED = '.blob-tmp';

/** A prefix is a key, a key followed by `/`, or empty (everything). */
export function assertBlobPrefix(prefix: string): void {
  if (prefix === '') return;
  assertBlobKey(prefix.endsWith('/') ? prefix.slice(0, -1) : prefix);
}

/** A name from a config or a user as one safe key segment (the same mapping artifacts always used). */
export function blobSegment(name: string): string {
  const cleaned = name.replace(/[^A-Za-z0-9._-]/g, '_');
  return cleaned === '.' || cleaned === '..' || cleaned === '' ? `_${cleaned}` : cleaned;
}
