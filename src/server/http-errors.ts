import type { FastifyError } from 'fastify';
import { AppError, ERROR_CODES, type ErrorCode } from '../app/errors.js';
import { BlobChecksumError, BlobNotFoundError, BlobUnavailableError } from '../ports/blob-store.js';
import { ConflictError, NotFoundError } from '../ports/errors.js';

export interface ErrorBody {
  error_code: ErrorCode;
  message: string;
  request_id: string;
  details: Record<string, string>;
}

/** Fastify's own request errors, as catalogue codes with a message that says what to do. */
const FASTIFY_ERRORS: Record<string, [ErrorCode, string]> = {
  FST_ERR_CTP_BODY_TOO_LARGE: ['PayloadTooLarge', 'the request body is too large (the limit is 1 MiB)'],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: ['UnsupportedMediaType', 'send the body as application/json'],
  FST_ERR_CTP_EMPTY_JSON_BODY: ['ValidationError', 'the JSON body is empty; send {} for no fields'],
  FST_ERR_CTP_INVALID_JSON_BODY: ['ValidationError', 'the body is not valid JSON'],
};

/**
 * A PostgreSQL connection lost mid-query (terminated backend, reset socket, server shutting down):
 * a 503 the client may retry (D19), not a 500.
 */
function isDatabaseOutage(error: unknown): boolean {
  const e = error as { code?: unknown; message?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : '';
  if (/^(57P0[1-3]|08\d{3})$/.test(code) || ['ECONNRESET', 'ECONNREFUSED', 'EPIPE'].includes(code))
    return true;
  return (
    typeof e?.message === 'string' &&
    /Connection terminated|connection timeout|Client has encountered a connection error/i.test(e.message)
  );
}

/** Turns anything thrown into SourceCraft's `ApiErrorResponse` with the catalogue's HTTP status. */
export function toErrorBody(error: unknown, requestId: string): { status: number; body: ErrorBody } {
  const make = (code: ErrorCode, message: string, details: Record<string, string> = {}) => ({
    status: ERROR_CODES[code],
    body: { error_code: code, message, request_id: requestId, details },
  });
  if (error instanceof AppError) return make(error.code, error.message, error.details);
  if (error instanceof NotFoundError) return make('NotFound', error.message);
  if (error instanceof ConflictError) return make('Conflict', error.message);
  if (error instanceof BlobNotFoundError) return make('NotFound', error.message);
  if (error instanceof BlobChecksumError) return make('ValidationError', error.message);
  if (error instanceof BlobUnavailableError)
    return make('Unavailable', 'the blob store is unreachable for a moment; retry the request shortly');
  const fe = error as Partial<FastifyError> & { validation?: { instancePath?: string; message?: string }[] };
  if (fe.validation) {
    const details: Record<string, string> = {};
    for (const v of fe.validation) details[v.instancePath || '/'] = v.message ?? 'invalid';
    return make('ValidationError', `invalid request: ${fe.message ?? 'validation failed'}`, details);
  }
  const known = fe.code ? FASTIFY_ERRORS[fe.code] : undefined;
  if (known)
    return make(
      known[0],
      known[1] + (fe.code === 'FST_ERR_CTP_INVALID_JSON_BODY' ? `: ${fe.message ?? ''}` : ''),
    );
  if (isDatabaseOutage(error))
    return make('Unavailable', 'the database is unreachable for a moment; retry the request shortly');
  if (fe instanceof SyntaxError || (fe.statusCode === 400 && fe.message))
    return make('ValidationError', `malformed request: ${fe.message ?? ''}`);
  return make('Internal', `internal error (request ${requestId}); the server log has the details`);
}
