export const MASK = '***';
const MAX_HOLD = 64 * 1024;
const EMPTY = Buffer.alloc(0);

/**
 * Streams log output and replaces every secret value with `***`. One instance per stream (see
 * `stream()`); `mask` and `maskText` are stateless.
 *
 * Output is released up to the last newline, so a secret split across two chunks is still
 * found; a line longer than 64 KiB is released except for a tail as long as the longest
 * secret. Multi-line secrets are masked line by line as well as whole.
 */
export class LogMasker {
  /** Shared by every stream of one masker, so a value added later is masked in all of them. */
  private readonly shared: { values: Set<string>; needles: Buffer[]; longest: number };
  private carry: Buffer = EMPTY;

  /** Give the secrets, or another masker to share its secrets (not its stream state). */
  constructor(secrets: Iterable<string> | LogMasker) {
    if (secrets instanceof LogMasker) {
      this.shared = secrets.shared;
      return;
    }
    this.shared = { values: new Set(), needles: [], longest: 0 };
    for (const secret of secrets) this.add(secret);
  }

  private get needles(): Buffer[] {
    return this.shared.needles;
  }

  private get longest(): number {
    return this.shared.longest;
  }

  /**
   * Masks one more value from now on, in every stream of this masker (`::add-mask::`, minted id
   * tokens). Output already released is not rewritten.
   */
  add(secret: string): void {
    if (secret === '') return;
    const { values } = this.shared;
    const before = values.size;
    values.add(secret);
    for (const line of secret.split(/\r?\n/)) if (line.trim() !== '') values.add(line);
    if (values.size === before) return;
    this.shared.needles = [...values].sort((a, b) => b.length - a.length).map((v) => Buffer.from(v));
    this.shared.longest = this.shared.needles[0]?.length ?? 0;
  }

  /**
   * A masker for one more output stream. `push` holds back the tail of a line, so each stream
   * (each cube) needs its own: a shared one would hand one cube's tail to another's log.
   */
  stream(): LogMasker {
    return new LogMasker(this);
  }

  get active(): boolean {
    return this.needles.length > 0;
  }

  push(chunk: Buffer): Buffer {
    if (!this.active) return chunk;
    const data = this.carry.length ? Buffer.concat([this.carry, chunk]) : chunk;
    let cut = data.lastIndexOf(10) + 1;
    if (data.length - cut > MAX_HOLD) cut = data.length - (this.longest - 1);
    this.carry = cut < data.length ? Buffer.from(data.subarray(cut)) : EMPTY;
    return this.mask(data.subarray(0, cut));
  }

  end(): Buffer {
    const rest = this.carry;
    this.carry = EMPTY;
    return this.mask(rest);
  }

  mask(data: Buffer): Buffer {
    let out = data;
    for (const needle of this.needles) out = replaceAll(out, needle);
    return out;
  }

  maskText(text: string): string {
    return this.active ? this.mask(Buffer.from(text)).toString() : text;
  }
}

function replaceAll(data: Buffer, needle: Buffer): Buffer {
  let at = data.indexOf(needle);
  if (at < 0) return data;
  const parts: Buffer[] = [];
  const mask = Buffer.from(MASK);
  let from = 0;
  while (at >= 0) {
    parts.push(data.subarray(from, at), mask);
    from = at + needle.length;
    at = data.indexOf(needle, from);
  }
  parts.push(data.subarray(from));
  return Buffer.concat(parts);
}
