export const MASK = '***';
/** Shorter secret values are not masked (docs/security.md). */
export const MIN_MASKED = 4;
const MAX_HOLD = 64 * 1024;
const EMPTY = Buffer.alloc(0);

/**
 * Streams log output and replaces every secret value with `***`. One instance per stream (see
 * `stream()`); `mask` and `maskText` are stateless.
 *
 * Output is released up to the last newline, so a secret split across two chunks is still
 * found; a line longer than 64 KiB is released except for a tail as long as the longest
 * secret, cut where no secret is split. Multi-line secrets are masked line by line as well as
 * whole. Values shorter than MIN_MASKED characters are not masked (they would mask ordinary text
 * everywhere, e.g. `1` or `on`); `skipped` lists them so the runner can say so once.
 */
export class LogMasker {
  /** Shared by every stream of one masker, so a value added later is masked in all of them. */
  private readonly shared: { values: Set<string>; needles: Buffer[]; longest: number; skipped: Set<string> };
  private carry: Buffer = EMPTY;

  /** Give the secrets, or another masker to share its secrets (not its stream state). */
  constructor(secrets: Iterable<string> | LogMasker) {
    if (secrets instanceof LogMasker) {
      this.shared = secrets.shared;
      return;
    }
    this.shared = { values: new Set(), needles: [], longest: 0, skipped: new Set() };
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
    if (secret.length < MIN_MASKED) {
      this.shared.skipped.add(secret);
      return;
    }
    values.add(secret);
    for (const line of secret.split(/\r?\n/)) if (line.trim().length >= MIN_MASKED) values.add(line);
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

  /** How many secret values were too short to mask. */
  get skipped(): number {
    return this.shared.skipped.size;
  }

  get active(): boolean {
    return this.needles.length > 0;
  }

  push(chunk: Buffer): Buffer {
    if (!this.active) return chunk;
    const data = this.carry.length ? Buffer.concat([this.carry, chunk]) : chunk;
    let cut = data.lastIndexOf(10) + 1;
    if (data.length - cut > MAX_HOLD) cut = this.safeCut(data, data.length - (this.longest - 1));
    this.carry = cut < data.length ? Buffer.from(data.subarray(cut)) : EMPTY;
    return this.mask(data.subarray(0, cut));
  }

  /**
   * A point at or before `cut` where no secret is split (D4): a long line is released in pieces,
   * and a secret straddling the end of a piece waits whole for the next one.
   */
  private safeCut(data: Buffer, cut: number): number {
    let at = Math.max(0, cut);
    for (let moved = true; moved;) {
      moved = false;
      for (const needle of this.needles) {
        // Only occurrences starting within a needle's length before the cut can straddle it.
        let from = Math.max(0, at - needle.length + 1);
        for (let hit = data.indexOf(needle, from); hit >= 0 && hit < at; hit = data.indexOf(needle, from)) {
          if (hit + needle.length > at) {
            at = hit;
            moved = true;
            break;
          }
          from = hit + 1;
        }
      }
    }
    return at;
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
