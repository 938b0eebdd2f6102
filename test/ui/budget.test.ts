import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';

// The research's budget (docs/web-ui.md): the run page's JS + CSS at most 60 KB gzip, every route
// together at most 120 KB. One bundle serves every route, so both are its size.
describe('web UI bundle budget', () => {
  it('keeps JS + CSS within 60 KB gzip for the run page and 120 KB for all routes', () => {
    const dir = join('dist', 'ui', 'assets');
    const files = readdirSync(dir).filter((f) => /\.(js|css)$/.test(f));
    assert.ok(files.some((f) => f.endsWith('.js')) && files.some((f) => f.endsWith('.css')), files.join());
    const html = readFileSync(join('dist', 'ui', 'index.html'), 'utf8');
    const loaded = files.filter((f) => html.includes(`/ui/assets/${f}`));
    const gz = (list: string[]) =>
      list.reduce((s, f) => s + gzipSync(readFileSync(join(dir, f)), { level: 9 }).length, 0);
    assert.ok(gz(loaded) <= 60 * 1024, `the run page loads ${gz(loaded)} bytes gzip`);
    assert.ok(gz(files) <= 120 * 1024, `all routes: ${gz(files)} bytes gzip`);
  });
});
