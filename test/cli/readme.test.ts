import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { shellBlocks, typeIntoBash } from '../helpers/doc-script.js';

// The README's quick starts, typed into bash exactly as written: a reader following them must end
// where the README says, whichever default branch their git makes.
const blocks = shellBlocks('README.md', (title) => title.startsWith('Quick start'));

describe('the README quick starts, typed into bash', () => {
  it('has the local, server and deployment blocks', () => {
    assert.equal(blocks.length, 3, 'three ```sh blocks under the Quick start headings');
    assert.match(blocks[0] ?? '', /conveyor run/);
    assert.match(blocks[1] ?? '', /conveyor server/);
    assert.match(blocks[2] ?? '', /conveyor deploy/);
  });

  for (const branch of ['master', 'main'])
    it(`works to the end with git's default branch ${branch}`, async () => {
      const { code, output, dir } = await typeIntoBash(blocks, { defaultBranch: branch });
      assert.equal(code, 0, output);
      // local: the run's lines, the artifact kept out of git status
      assert.match(output, /\[build\/test\/check\] testing 1\.2\.\d+/);
      // server: the push started run 1, which succeeded; its log; the artifact; the trigger
      assert.match(output, /created repository acme\/demo/);
      assert.match(output, new RegExp(`run acme/demo#1 started: push of ${branch} at`));
      assert.match(output, /Run #1 success/);
      assert.match(output, /^testing 1\.2\.\d+$/m);
      assert.ok(
        existsSync(join(dir, 'out')) && readdirSync(join(dir, 'out')).length > 0,
        'artifact downloaded',
      );
      assert.match(output, /started run #2 /);
      assert.match(output, /run #2: success/);
      // deployment: approved by alice, prod by bob, and prod shows the release live
      assert.match(output, /staging\s+completed.*approved: looks good/);
      assert.match(output, /^3\s+prod\s+yes\s+require_any\s+\S+\s+workflow deploy\s+0\.1\.0$/m);
      assert.doesNotMatch(output, /Error: |at .*\.mjs:\d+/);
    });
});
