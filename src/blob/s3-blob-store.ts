import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  paginateListObjectsV2,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { Readable, Transform, pipeline } from 'node:stream';
import {
  BlobNotFoundError,
  assertBlobKey,
  assertBlobPrefix,
  type BlobInfo,
  type BlobStore,
  type ByteRange,
  type PutOptions,
  type StoredBlob,
} from '../ports/blob-store.js';
import { HashingStream } from './hashing.js';
import { isMissing, translateS3Error } from './s3-errors.js';

export interface S3BlobStoreOptions {
  bucket: string;
  /** Prepended to every key (`ci/` for `s3://bucket/ci`). */
  prefix: string;
  client: S3ClientConfig;
  /** Objects larger than this go up in parts of this size (S3's minimum is 5 MiB). */
  partSize?: number;
}

/**
 * Objects in an S3 bucket, through the AWS SDK: puts stream through lib-storage's `Upload`
 * (one PutObject for a small body, a multipart upload in `partSize` parts above it: S3 makes the
 * object visible only when the upload completes, which happens after the source ended and its
 * sha256 was checked), reads are ranged GETs, and download URLs are presigned GETs.
 */
export class S3BlobStore implements BlobStore {
  readonly kind = 's3';
  private readonly client: S3Client;
  private readonly partSize: number;

  constructor(private readonly o: S3BlobStoreOptions) {
    this.client = new S3Client({
      // S3-compatible servers (and s3rver) do not all accept the SDK's default CRC32 trailers.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      ...o.client,
    });
    this.partSize = Math.max(5 * 1024 * 1024, o.partSize ?? 8 * 1024 * 1024);
  }

  private name(key: string): string {
    assertBlobKey(key);
    return `${this.o.prefix}${key}`;
  }

  async put(key: string, source: Readable, options: PutOptions = {}): Promise<StoredBlob> {
    const Key = this.name(key);
    const hashing = new HashingStream(options.sha256);
    const body = pipeline(source, hashing, () => undefined);
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.o.bucket, Key, Body: body },
      partSize: this.partSize,
      queueSize: 2,
    });
    try {
      await upload.done();
    } catch (error) {
      // Incomplete parts of a failed multipart upload are aborted by lib-storage where the server
      // supports it; a bucket lifecycle rule (AbortIncompleteMultipartUpload) removes the rest.
      // The source's own error (a checksum mismatch, a broken upload) says more than the abort's.
      if (body.errored) throw body.errored;
      throw translateS3Error(error, `storing ${Key}`);
    }
    return { key, size: hashing.bytes, sha256: hashing.sha256 };
  }

  async get(key: string, range: ByteRange = { start: 0 }): Promise<Readable> {
    const Key = this.name(key);
    if ((range.end !== undefined && range.end <= range.start) || range.start > 0) {
      // S3 refuses a range starting at or past the end (416): answer those from the size.
      const info = await this.head(key);
      if (!info) throw new BlobNotFoundError(`no object ${key}`);
      if (range.start >= info.size || (range.end !== undefined && range.end <= range.start))
        return Readable.from([]);
    }
    const Range =
      range.start > 0 || range.end !== undefined
        ? `bytes=${range.start}-${range.end !== undefined ? range.end - 1 : ''}`
        : undefined;
    try {
      const got = await this.client.send(
        new GetObjectCommand({ Bucket: this.o.bucket, Key, ...(Range ? { Range } : {}) }),
      );
      const body = got.Body as Readable;
      // Some S3-compatible servers answer `bytes=0-0` with more (s3rver): never pass on more than asked.
      return range.end !== undefined ? limit(body, range.end - range.start) : body;
    } catch (error) {
      if (isMissing(error)) throw new BlobNotFoundError(`no object ${key}`);
      throw translateS3Error(error, `reading ${Key}`);
    }
  }

  async head(key: string): Promise<BlobInfo | undefined> {
    const Key = this.name(key);
    try {
      const got = await this.client.send(new HeadObjectCommand({ Bucket: this.o.bucket, Key }));
      return { key, size: got.ContentLength ?? 0 };
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw translateS3Error(error, `looking up ${Key}`);
    }
  }

  async delete(key: string): Promise<void> {
    const Key = this.name(key);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.o.bucket, Key }));
    } catch (error) {
      if (!isMissing(error)) throw translateS3Error(error, `deleting ${Key}`);
    }
  }

  async *list(prefix: string): AsyncIterable<BlobInfo> {
    assertBlobPrefix(prefix);
    const pages = paginateListObjectsV2(
      { client: this.client },
      { Bucket: this.o.bucket, Prefix: `${this.o.prefix}${prefix}` },
    );
    try {
      for await (const page of pages)
        for (const object of page.Contents ?? [])
          if (object.Key) yield { key: object.Key.slice(this.o.prefix.length), size: object.Size ?? 0 };
    } catch (error) {
      throw translateS3Error(error, `listing ${this.o.prefix}${prefix}`);
    }
  }

  async downloadUrl(key: string, options: { expiresInS: number; filename?: string }): Promise<string> {
    const command = new GetObjectCommand({
      Bucket: this.o.bucket,
      Key: this.name(key),
      ...(options.filename
        ? { ResponseContentDisposition: `attachment; filename="${options.filename.replace(/["\\]/g, '')}"` }
        : {}),
    });
    return getSignedUrl(this.client, command, { expiresIn: options.expiresInS });
  }

  url(key: string): string {
    return `s3://${this.o.bucket}/${this.name(key)}`;
  }

  keyOf(url: string): string | undefined {
    const base = `s3://${this.o.bucket}/${this.o.prefix}`;
    if (!url.startsWith(base)) return undefined;
    const key = url.slice(base.length);
    try {
      assertBlobKey(key);
      return key;
    } catch {
      return undefined;
    }
  }

  close(): void {
    this.client.destroy();
  }
}

/** The first `bytes` bytes of `source`. */
function limit(source: Readable, bytes: number): Readable {
  let left = bytes;
  return pipeline(
    source,
    new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        const take = chunk.subarray(0, Math.max(0, left));
        left -= take.length;
        callback(null, take.length > 0 ? take : undefined);
      },
    }),
    () => undefined,
  );
}
