/** Errors that adapters raise in a form use cases understand; the catalogue of API codes builds on these. */
export class NotFoundError extends Error {
  readonly code = 'NotFound';
}

export class ConflictError extends Error {
  readonly code = 'Conflict';
}
