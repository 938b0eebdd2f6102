import { isTerminal } from './status.js';
import type { CubeRun } from './model.js';

/** Derived, never stored: the fraction (0..1) of finished cubes, and any one running cube. */
export function progressOf(cubes: readonly CubeRun[]): { percent: number; currentCube?: CubeRun } {
  if (cubes.length === 0) return { percent: 0 };
  let done = 0;
  let current: CubeRun | undefined;
  for (const cube of cubes) {
    if (isTerminal(cube.status)) done++;
    else if (cube.status === 'processing' && !current) current = cube;
  }
  return { percent: done / cubes.length, ...(current ? { currentCube: current } : {}) };
}
