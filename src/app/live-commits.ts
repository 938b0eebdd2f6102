import type { RunRecord } from '../core/run/model.js';
import type { RunChanges } from '../ports/run-store.js';

/**
 * `tree` with a committed write applied: each written node takes the fields the store writes
 * (SqlRunStore.applyChanges) and its new version, when that is newer than the tree's. `changes`
 * must be the copy that was written, not the engine's live objects (those may have moved on).
 * Returns a new tree (the old one stays as readers saw it), or undefined when a node is missing.
 */
export function withCommitted(tree: RunRecord, changes: RunChanges): RunRecord | undefined {
  const next = structuredClone(tree);
  const workflows = new Map(next.workflows.map((w) => [w.id, w]));
  const tasks = new Map(next.workflows.flatMap((w) => w.tasks.map((t) => [t.id, t] as const)));
  const cubes = new Map(
    next.workflows.flatMap((w) => w.tasks.flatMap((t) => t.cubes.map((c) => [c.id, c] as const))),
  );
  const r = changes.run;
  if (r && r.version > next.version) {
    next.status = r.status;
    next.dates = { ...r.dates };
    next.errorMessages = [...r.errorMessages];
    next.version = r.version;
  }
  for (const w of changes.workflows ?? []) {
    const node = workflows.get(w.id);
    if (!node) return undefined;
    if (w.version > node.version)
      Object.assign(node, { status: w.status, dates: { ...w.dates }, version: w.version });
  }
  for (const t of changes.tasks ?? []) {
    const node = tasks.get(t.id);
    if (!node) return undefined;
    if (t.version > node.version)
      Object.assign(node, {
        status: t.status,
        dates: { ...t.dates },
        outputs: { ...t.outputs },
        version: t.version,
      });
  }
  for (const c of changes.cubes ?? []) {
    const node = cubes.get(c.id);
    if (!node) return undefined;
    if (c.version <= node.version) continue;
    Object.assign(node, {
      status: c.status,
      dates: { ...c.dates },
      outputs: { ...c.outputs },
      artifacts: structuredClone(c.artifacts),
      version: c.version,
    });
    if (c.exitCode === undefined) delete node.exitCode;
    else node.exitCode = c.exitCode;
    if (c.errorMessage === undefined) delete node.errorMessage;
    else node.errorMessage = c.errorMessage;
  }
  return next;
}
