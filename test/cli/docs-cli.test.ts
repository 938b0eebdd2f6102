import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { shellBlocks, typeIntoBash } from '../helpers/doc-script.js';

// The walk-throughs of docs/cli.md, typed into bash exactly as written.
const blocks = shellBlocks('docs/cli.md', (title) => title.startsWith('Walk-through'));

describe('the docs/cli.md walk-throughs, typed into bash', () => {
  it('a team’s first repository works to the end', async () => {
    assert.ok(blocks.length >= 1, 'docs/cli.md has a walk-through');
    const { code, output } = await typeIntoBash(blocks, { defaultBranch: 'main' });
    assert.equal(code, 0, output);
    assert.match(output, /wrote .*\.conveyor\/ci\.yaml \(no known project file/);
    assert.match(output, /✓ \.conveyor\/ci\.yaml is valid/);
    assert.match(output, /acme\/app\s+main\s+off\s+/);
    assert.match(output, /USER\s+ROLE\ndana\s+developer/);
    assert.match(output, /^dana$/m);
    assert.match(output, /Run #1 success/);
    assert.match(output, /no cube failed/);
    assert.match(output, /created with the user\s+.*active/);
    assert.doesNotMatch(output, /Error: |at .*\.mjs:\d+/);
  });
});
