import assert from 'node:assert/strict';

/** Narrows away undefined with an assertion that names what was missing. */
export function defined<T>(value: T | undefined | null, what = 'value'): T {
  assert.ok(value !== undefined && value !== null, `expected ${what} to be present`);
  return value;
}
