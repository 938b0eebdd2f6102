import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { parseConfigFile } from '../../src/app/load-config.js';

const VALID = `on:
  push: [{workflows: [build], filter: {branches: [main]}}]
env: {A: "1"}
workflows:
  build:
    inputs: {WHO: {default: world}}
    tasks:
      - name: t
        needs: []
        cubes:
          - name: c
            script: ["echo \${{ inputs.WHO }}"]
            artifacts: {paths: [out/]}
`;

/** Checks what the parser promises for any input: diagnostics with positions, no exception. */
function check(text: string): void {
  const result = parseConfigFile(text, 'ci.yaml');
  for (const d of result.diagnostics) {
    assert.ok(Number.isInteger(d.line) && d.line >= 1, JSON.stringify(d));
    assert.ok(Number.isInteger(d.column) && d.column >= 1, JSON.stringify(d));
    assert.equal(typeof d.message, 'string');
  }
  assert.ok(result.config || result.diagnostics.some((d) => d.severity === 'error'), 'no config, no error');
}

describe('config parser fuzzing', () => {
  it('any YAML value gives diagnostics with positions and never throws', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 5 }), (value) => check(stringify(value))),
      { numRuns: 300 },
    );
  });

  it('any text (broken YAML included) gives diagnostics with positions and never throws', () => {
    fc.assert(fc.property(fc.string({ maxLength: 300 }), check), { numRuns: 300 });
  });

  it('a valid config with a character inserted, deleted or replaced anywhere never throws', () => {
    const alphabet = fc.constantFrom(...' \n\t:-[]{}#&*!|>\'"%@`,?$'.split(''), 'x', '0');
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(VALID.length), fc.nat(2), alphabet), { minLength: 1, maxLength: 4 }),
        (edits) => {
          let text = VALID;
          for (const [at, kind, ch] of edits) {
            const p = at % (text.length + 1);
            text =
              kind === 0
                ? text.slice(0, p) + ch + text.slice(p)
                : kind === 1
                  ? text.slice(0, p) + text.slice(p + 1)
                  : text.slice(0, p) + ch + text.slice(p + 1);
          }
          check(text);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('a mapping that merges itself is an error with a position, not a stack overflow', () => {
    for (const text of ['&a { <<: *a }', 'env: &a\n  K: v\n  <<: *a\n', 'workflows: &a\n  <<: [*a]\n'])
      assert.ok(
        parseConfigFile(text, 'ci.yaml').diagnostics.some((d) => /merge key/.test(d.message) && d.line >= 1),
        text,
      );
  });

  it('anchors, aliases and merge keys in any arrangement never throw', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom('&a', '*a', '<<: *a', 'x:', '- ', '  ', '\n', '{', '}', 'k: v'), {
          maxLength: 30,
        }),
        (parts) => check(parts.join(' ')),
      ),
      { numRuns: 300 },
    );
  });
});
