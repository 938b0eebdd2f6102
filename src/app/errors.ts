/**
 * The catalogue of application errors. Every error the API answers with has one of these codes;
 * docs/api.md documents each (a test checks), and the server maps each to its HTTP status.
 */
export const ERROR_CODES = {
  ValidationError: 400,
  Unauthenticated: 401,
  PermissionDenied: 403,
  NotFound: 404,
  MethodNotAllowed: 405,
  Conflict: 409,
  LeaseLost: 409,
  LogIncomplete: 412,
  PayloadTooLarge: 413,
  UnsupportedMediaType: 415,
  RangeMismatch: 416,
  RateLimited: 429,
  Internal: 500,
  Unavailable: 503,
  StorageFailed: 507,
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** An error meant for the caller: a code from the catalogue, a message saying what to do, details. */
export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: Record<string, string> = {},
  ) {
    super(message);
  }
}

export const invalid = (message: string, details: Record<string, string> = {}) =>
  new AppError('ValidationError', message, details);
export const notFound = (message: string) => new AppError('NotFound', message);
export const denied = (message: string) => new AppError('PermissionDenied', message);
export const conflict = (message: string) => new AppError('Conflict', message);
