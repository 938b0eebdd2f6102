import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

// The layering rule of docs/architecture.md, checked over the real sources: imports point down.
const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../../src');

/** What each module may import (besides itself). */
const ALLOWED: Record<string, string[]> = {
  core: [],
  ports: ['core'],
  transport: ['core'],
  app: ['core', 'ports'],
  store: ['core', 'ports'],
  logs: ['core', 'ports'],
  artifacts: ['core', 'ports'],
  blob: ['core', 'ports'],
  executors: ['core', 'ports'],
  workspace: ['core', 'ports'],
  cli: ['*'],
  server: ['*'],
  // The worker is an edge like the server: it runs the app's engine with adapters of its own.
  worker: ['core', 'ports', 'app', 'logs', 'executors', 'workspace'],
  // The web UI talks to the server over the public API only: it imports nothing of ours.
  web: [],
};

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return /\.tsx?$/.test(entry.name) ? [path] : [];
  });
}

function moduleOf(file: string): string {
  return relative(SRC, file).split('/')[0] ?? '';
}

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs = [...text.matchAll(/(?:from|import)\s*\(?\s*'([^']+)'/g)].map((m) => m[1] ?? '');
  return specs;
}

describe('import graph', () => {
  const files = sources(SRC);

  it('finds the sources', () => assert.ok(files.length > 30, `only ${files.length} files under ${SRC}`));

  it('every module is in the layering table', () => {
    const modules = new Set(files.map(moduleOf).filter((m) => !m.endsWith('.ts')));
    for (const m of modules) assert.ok(m in ALLOWED, `src/${m} is not in the layering table`);
  });

  it('imports point down the layers, and core is pure', () => {
    const violations: string[] = [];
    for (const file of files) {
      const from = moduleOf(file);
      const allowed = ALLOWED[from] ?? [];
      for (const spec of importsOf(file)) {
        if (from === 'core' && (spec.startsWith('node:') || /^(fs|path|os|child_process)$/.test(spec)))
          violations.push(`${relative(SRC, file)} imports ${spec} (core does no I/O)`);
        if (!spec.startsWith('.')) continue;
        const to = moduleOf(resolve(dirname(file), spec));
        if (to === from || allowed.includes('*') || allowed.includes(to)) continue;
        violations.push(`${relative(SRC, file)} imports ${spec} (src/${from} may not use src/${to})`);
      }
    }
    assert.deepEqual(violations, []);
  });
});
