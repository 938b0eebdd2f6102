/** Exhaustiveness guard for `switch` over string-literal unions. */
export function assertNever(value: never): never {
  throw new Error(`unexpected value: ${String(value)}`);
}
