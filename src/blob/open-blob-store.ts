import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BlobStore } from '../ports/blob-store.js';
import { FileBlobStore } from './file-blob-store.js';

const USAGE =
  'use file:///path (a directory) or s3://bucket/prefix?endpoint=URL&region=R&force_path_style=true';

/**
 * The blob store `--blob-store` names: `file:///path`, or `s3://bucket/prefix` with optional
 * `endpoint`, `region` and `force_path_style` parameters (S3-compatible servers need the endpoint
 * and usually path-style addressing). S3 credentials come from the AWS SDK's standard chain
 * (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, AWS_PROFILE, instance roles);
 * the region from `region`, else AWS_REGION, else us-east-1. Unset: files in `defaultDir`.
 * A wrong URL throws an Error that says what is accepted.
 */
export async function openBlobStore(
  spec: string | undefined,
  defaultDir: string,
  env: NodeJS.ProcessEnv,
): Promise<BlobStore> {
  if (!spec) return new FileBlobStore(resolve(defaultDir));
  let url: URL;
  try {
    url = new URL(spec);
  } catch {
    throw new Error(`the blob store '${spec}' is not a URL: ${USAGE}`);
  }
  if (url.protocol === 'file:') return new FileBlobStore(fileURLToPath(url));
  if (url.protocol !== 's3:') throw new Error(`unsupported blob store '${url.protocol}': ${USAGE}`);
  if (!url.hostname) throw new Error(`the blob store '${spec}' names no bucket: ${USAGE}`);
  const known = new Set(['endpoint', 'region', 'force_path_style', 'part_size_mb']);
  for (const name of url.searchParams.keys())
    if (!known.has(name)) throw new Error(`unknown blob store parameter '${name}': ${USAGE}`);
  const prefix = decodeURIComponent(url.pathname).replace(/^\/+|\/+$/g, '');
  const endpoint = url.searchParams.get('endpoint') ?? undefined;
  const partSizeMb = Number(url.searchParams.get('part_size_mb') ?? 8);
  if (!(partSizeMb >= 5)) throw new Error('part_size_mb must be a number of MiB, 5 or more');
  // Loaded only for S3: the AWS SDK is large and most servers and every `conveyor run` need none of it.
  const { S3BlobStore } = await import('./s3-blob-store.js');
  return new S3BlobStore({
    bucket: url.hostname,
    prefix: prefix ? `${prefix}/` : '',
    partSize: partSizeMb * 1024 * 1024,
    client: {
      region: url.searchParams.get('region') ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1',
      forcePathStyle: url.searchParams.get('force_path_style') === 'true',
      ...(endpoint ? { endpoint } : {}),
      // Keys in the server's environment are taken from it (the SDK alone reads process.env only);
      // without them the SDK's chain applies (profiles, SSO, instance and container roles).
      ...(env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY
        ? {
            credentials: {
              accessKeyId: env.AWS_ACCESS_KEY_ID,
              secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
              ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
            },
          }
        : {}),
    },
  });
}
