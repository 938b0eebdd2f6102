import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { layeredLayout } from '../../src/web/graph/layout.js';
import { shapeOf } from '../../src/web/graph/shape.js';
import { syntheticRun } from '../helpers/synthetic-run.js';

describe('run graph layout', () => {
  it('places every node of a random DAG left of what needs it, without overlaps in a layer', () =>
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 60 }),
        fc.array(fc.tuple(fc.nat(), fc.nat()), { maxLength: 150 }),
        (n, pairs) => {
          const edges = pairs.map(([a, b]) => [a % n, b % n] as const).filter(([a, b]) => a < b); // a DAG: edges point to higher indexes
          const heights = Array.from({ length: n }, (_, i) => 30 + (i % 4) * 26);
          const out = layeredLayout({ heights, edges, width: 200 });
          for (const [a, b] of edges) assert.ok((out.x[a] ?? 0) < (out.x[b] ?? 0), `${a} → ${b}`);
          const byColumn = new Map<number, number[]>();
          for (let i = 0; i < n; i++)
            byColumn.set(out.x[i] ?? 0, [...(byColumn.get(out.x[i] ?? 0) ?? []), i]);
          for (const nodes of byColumn.values()) {
            const sorted = [...nodes].sort((p, q) => (out.y[p] ?? 0) - (out.y[q] ?? 0));
            for (let k = 1; k < sorted.length; k++) {
              const prev = sorted[k - 1] ?? 0;
              const cur = sorted[k] ?? 0;
              assert.ok((out.y[prev] ?? 0) + (heights[prev] ?? 0) <= (out.y[cur] ?? 0), 'overlap');
            }
          }
          return true;
        },
      ),
    ));

  it('draws an edge that another path implies only once (transitive reduction)', () => {
    const out = layeredLayout({
      heights: [30, 30, 30],
      edges: [
        [0, 1],
        [1, 2],
        [0, 2],
      ],
      width: 100,
    });
    assert.deepEqual(
      out.paths.map((p) => [p.from, p.to]),
      [
        [0, 1],
        [1, 2],
      ],
    );
  });

  it('depends on structure only: a run whose statuses all changed has the same geometry', () => {
    const before = shapeOf(
      syntheticRun(300, () => 'processing'),
      new Set(),
    );
    const after = shapeOf(
      syntheticRun(300, (i) => (i % 3 ? 'success' : 'failed')),
      new Set(),
    );
    assert.deepEqual(after.workflows, before.workflows);
    assert.equal(before.workflows.flatMap((w) => w.tasks.flatMap((t) => t.cubes)).length, 300);
  });
});
