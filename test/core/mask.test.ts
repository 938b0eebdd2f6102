import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { LogMasker } from '../../src/core/run/mask.js';

/** Feeds `text` to a fresh stream of `masker` in chunks cut at `cuts`, and returns all it released. */
function streamed(masker: LogMasker, text: string, cuts: number[]): string {
  const stream = masker.stream();
  const data = Buffer.from(text);
  const points = [...new Set(cuts.map((c) => c % (data.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let from = 0;
  for (const at of [...points, data.length]) {
    out.push(stream.push(data.subarray(from, at)));
    from = at;
  }
  out.push(stream.end());
  return Buffer.concat(out).toString();
}

describe('masking across chunk and line boundaries (D4)', () => {
  it('the probe: a secret repeated in one 400 KB line, in any chunking, is never released', () => {
    const secret = 'alpha-s3cr3t-value-XYZ';
    const masker = new LogMasker([secret]);
    const line = `${`xxxxxxx${secret}`.repeat(14_000)}\n`;
    for (const size of [4096, 65536, 65537, 100_003]) {
      const cuts = Array.from({ length: Math.ceil(line.length / size) }, (_, i) => i * size);
      const out = streamed(masker, line, cuts);
      assert.equal(out.split(secret).length - 1, 0, `chunks of ${size}`);
      assert.equal(out.split('***').length - 1, 14_000);
    }
  });

  it('any secrets, any text, any cuts: no secret survives and nothing else changes', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ minLength: 4, maxLength: 40, unit: 'grapheme-ascii' }), {
          minLength: 1,
          maxLength: 3,
        }),
        fc.array(fc.oneof(fc.string({ maxLength: 30 }), fc.constant('\n')), { maxLength: 20 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        fc.nat({ max: 3 }),
        (secrets, filler, cuts, repeat) => {
          const masker = new LogMasker(secrets);
          // Long lines (over the 64 KiB hold) are where the old code split secrets.
          const padding = repeat > 1 ? 'p'.repeat(70_000) : '';
          const text = filler.map((part, i) => part + (secrets[i % secrets.length] ?? '') + padding).join('');
          const out = streamed(masker, text, cuts);
          for (const secret of secrets.filter((s) => s.trim().length >= 4)) assert.ok(!out.includes(secret));
          assert.equal(streamed(masker, text, []), out, 'the chunking does not change the result');
        },
      ),
      { numRuns: 60 },
    );
  });

  it('values shorter than 4 characters are not masked, and counted', () => {
    const masker = new LogMasker(['on', 'abc', 'long-enough']);
    assert.equal(masker.maskText('on abc long-enough'), 'on abc ***');
    assert.equal(masker.skipped, 2);
  });
});
