import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ERROR_CODES } from '../../src/app/errors.js';

const API_DOC = fileURLToPath(new URL('../../../docs/api.md', import.meta.url));

describe('error catalogue', () => {
  it('documents every error code with its HTTP status in docs/api.md', () => {
    const doc = readFileSync(API_DOC, 'utf8');
    for (const [code, status] of Object.entries(ERROR_CODES)) {
      const row = new RegExp(`^\\|\\s*\`${code}\`\\s*\\|\\s*${status}\\s*\\|`, 'm');
      assert.match(doc, row, `docs/api.md has a row for ${code} (${status})`);
    }
  });
});
