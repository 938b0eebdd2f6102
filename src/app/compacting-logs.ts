import { isTerminal } from '../core/run/status.js';
import type { RunStore } from '../ports/run-store.js';

/**
 * The store a run's engine writes through, calling `compact` for each cube whose end it has just
 * committed: that is when the server knows a cube's log is whole (a worker reports a cube's end
 * only once every byte of its log is stored), so its live chunks can become one object.
 */
export function compactingLogs<S extends Pick<RunStore, 'applyChanges'>>(
  store: S,
  runId: string,
  compact: (runId: string, cubeId: string) => void,
): S {
  const compacted = new Set<string>();
  const applyChanges: RunStore['applyChanges'] = async (changes) => {
    const ended = (changes.cubes ?? [])
      .filter((cube) => isTerminal(cube.status) && !compacted.has(cube.id))
      .map((cube) => cube.id);
    await store.applyChanges(changes);
    for (const cubeId of ended) {
      compacted.add(cubeId);
      compact(runId, cubeId);
    }
  };
  return new Proxy(store, {
    get(target, property) {
      if (property === 'applyChanges') return applyChanges;
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as () => unknown).bind(target) : value;
    },
  });
}
