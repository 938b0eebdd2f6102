import type { LogLine } from '../ports/log-store.js';

/** Lines per log page. SourceCraft's pages are "of unequal size"; ours are equal, which its clients accept. */
export const LOG_PAGE_LINES = 1000;

export interface LogPage {
  lines: LogLine[];
  pageComplete: boolean;
  done: boolean;
}

/**
 * SourceCraft's paged log protocol over a cube's lines. While the cube runs, its last line may still
 * grow, so it is held back; a page is complete once the next one has begun (or the cube is done).
 * Returns undefined for a page that has not started (the API answers 404); page 1 always exists.
 */
export function logPage(all: LogLine[], page: number, done: boolean): LogPage | undefined {
  const visible = done ? all : all.slice(0, Math.max(0, all.length - 1));
  const start = (page - 1) * LOG_PAGE_LINES;
  if (page > 1 && visible.length <= start) return undefined;
  const lines = visible.slice(start, start + LOG_PAGE_LINES);
  const pageComplete = done ? true : visible.length > start + LOG_PAGE_LINES;
  return { lines, pageComplete, done };
}
