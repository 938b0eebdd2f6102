import { BlobUnavailableError } from '../ports/blob-store.js';

interface SdkError {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  $retryable?: unknown;
}

const TRANSIENT_NAMES = new Set([
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
  'SlowDown',
  'ThrottlingException',
  'ServiceUnavailable',
  'InternalError',
]);
const TRANSIENT_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
]);

export function isMissing(error: unknown): boolean {
  const e = error as SdkError;
  return e.name === 'NoSuchKey' || e.name === 'NotFound' || e.$metadata?.httpStatusCode === 404;
}

/** Unreachable or overloaded S3 becomes BlobUnavailableError (retry later); anything else stays an Error. */
export function translateS3Error(error: unknown, doing: string): Error {
  const e = (error ?? {}) as SdkError;
  const status = e.$metadata?.httpStatusCode;
  const code = e.code ?? (e as { cause?: SdkError }).cause?.code;
  const transient =
    (status !== undefined && (status >= 500 || status === 429)) ||
    TRANSIENT_NAMES.has(e.name ?? '') ||
    TRANSIENT_CODES.has(code ?? '') ||
    e.$retryable !== undefined;
  const message = `S3 failed ${doing}: ${e.name ?? 'Error'}: ${e.message ?? String(error)}`;
  return transient
    ? new BlobUnavailableError(message, { cause: error })
    : new Error(message, { cause: error });
}
