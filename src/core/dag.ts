/**
 * Returns one dependency cycle as a path `[a, b, ..., a]`, or undefined when the graph is acyclic.
 * Edges to unknown nodes are ignored (they are reported separately as unknown references).
 */
export function findCycle(
  nodes: readonly string[],
  edges: (node: string) => readonly string[],
): string[] | undefined {
  const known = new Set(nodes);
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string): string[] | undefined => {
    state.set(node, 'visiting');
    stack.push(node);
    for (const next of edges(node)) {
      if (!known.has(next)) continue;
      const s = state.get(next);
      if (s === 'visiting') return [...stack.slice(stack.indexOf(next)), next];
      if (s === undefined) {
        const cycle = visit(next);
        if (cycle) return cycle;
      }
    }
    stack.pop();
    state.set(node, 'done');
    return undefined;
  };
  for (const node of nodes) {
    if (state.has(node)) continue;
    const cycle = visit(node);
    if (cycle) return cycle;
  }
  return undefined;
}

/** Every node reachable from `start` through `edges`, not counting `start` itself. */
export function ancestors(start: string, edges: (node: string) => readonly string[]): Set<string> {
  const seen = new Set<string>();
  const queue = [...edges(start)];
  while (queue.length > 0) {
    const node = queue.pop() as string;
    if (seen.has(node)) continue;
    seen.add(node);
    queue.push(...edges(node));
  }
  seen.delete(start);
  return seen;
}
