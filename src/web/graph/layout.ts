/**
 * A layered ("Sugiyama-style") layout, ours because dagre takes about a second at 300 nodes:
 * longest-path layers, dummy nodes on edges that skip layers, transitive reduction (an edge that
 * another path already implies is not drawn), barycenter sweeps to reduce crossings, then each node
 * placed near its predecessors without overlapping. It reads only the structure (ids, heights,
 * edges), never statuses, so nodes never move when a run's statuses change. Pure: no DOM.
 */
export interface LayoutInput {
  heights: readonly number[];
  /** [from, to]: `to` needs `from` (indexes into heights). */
  edges: readonly (readonly [number, number])[];
  width: number;
  layerGap?: number;
  nodeGap?: number;
}

export interface LayoutResult {
  x: number[];
  y: number[];
  /** Drawn edges (after transitive reduction), each a polyline from `from`'s right to `to`'s left. */
  paths: { from: number; to: number; points: [number, number][] }[];
  width: number;
  height: number;
}

const DUMMY_HEIGHT = 6;

export function layeredLayout(input: LayoutInput): LayoutResult {
  const n = input.heights.length;
  const layerGap = input.layerGap ?? 56;
  const nodeGap = input.nodeGap ?? 14;
  const edges = reduce(n, input.edges);
  const layer = longestPath(n, edges);
  // Nodes of the layered graph: real nodes, then dummies for each layer an edge crosses.
  const heights = [...input.heights];
  const lay = [...layer];
  const chains: { from: number; to: number; via: number[] }[] = [];
  const adjacent: [number, number][] = [];
  for (const [u, v] of edges) {
    const via: number[] = [];
    let prev = u;
    for (let l = (lay[u] ?? 0) + 1; l < (lay[v] ?? 0); l++) {
      const d = heights.length;
      heights.push(DUMMY_HEIGHT);
      lay.push(l);
      via.push(d);
      adjacent.push([prev, d]);
      prev = d;
    }
    adjacent.push([prev, v]);
    chains.push({ from: u, to: v, via });
  }
  const layers = order(heights.length, lay, adjacent);
  const y = place(layers, heights, adjacent, nodeGap);
  const x = lay.map((l) => l * (input.width + layerGap));
  const center = (i: number) => (y[i] ?? 0) + (heights[i] ?? 0) / 2;
  const paths = chains.map(({ from, to, via }) => ({
    from,
    to,
    points: [
      [(x[from] ?? 0) + input.width, center(from)] as [number, number],
      ...via.map((d) => [(x[d] ?? 0) + input.width / 2, center(d)] as [number, number]),
      [x[to] ?? 0, center(to)] as [number, number],
    ],
  }));
  let height = 0;
  for (let i = 0; i < n; i++) height = Math.max(height, (y[i] ?? 0) + (heights[i] ?? 0));
  const maxLayer = lay.reduce((m, l) => Math.max(m, l), 0);
  return {
    x: x.slice(0, n),
    y: y.slice(0, n),
    paths,
    width: n === 0 ? 0 : (maxLayer + 1) * input.width + maxLayer * layerGap,
    height,
  };
}

/** Drops u→v when v is reachable from u another way (GitLab's "filter by ancestors"). */
function reduce(n: number, edges: readonly (readonly [number, number])[]): [number, number][] {
  const needs: number[][] = Array.from({ length: n }, () => []);
  for (const [u, v] of edges) if (u !== v && u < n && v < n) needs[v]?.push(u);
  const ancestors: (Set<number> | undefined)[] = new Array<Set<number> | undefined>(n);
  const visiting = new Set<number>();
  const ancestorsOf = (v: number): Set<number> => {
    const known = ancestors[v];
    if (known) return known;
    const set = new Set<number>();
    if (visiting.has(v)) return set; // a cycle: validation rejects these, the layout just survives
    visiting.add(v);
    for (const u of needs[v] ?? []) {
      set.add(u);
      for (const a of ancestorsOf(u)) set.add(a);
    }
    visiting.delete(v);
    ancestors[v] = set;
    return set;
  };
  const out: [number, number][] = [];
  for (let v = 0; v < n; v++) {
    const direct = [...new Set(needs[v] ?? [])];
    for (const u of direct) if (!direct.some((w) => w !== u && ancestorsOf(w).has(u))) out.push([u, v]);
  }
  return out;
}

function longestPath(n: number, edges: [number, number][]): number[] {
  const layer = new Array<number>(n).fill(0);
  const indegree = new Array<number>(n).fill(0);
  const next: number[][] = Array.from({ length: n }, () => []);
  for (const [u, v] of edges) {
    next[u]?.push(v);
    indegree[v] = (indegree[v] ?? 0) + 1;
  }
  const queue: number[] = [];
  for (let i = 0; i < n; i++) if (indegree[i] === 0) queue.push(i);
  for (let head = 0; head < queue.length; head++) {
    const u = queue[head] ?? 0;
    for (const v of next[u] ?? []) {
      layer[v] = Math.max(layer[v] ?? 0, (layer[u] ?? 0) + 1);
      indegree[v] = (indegree[v] ?? 0) - 1;
      if (indegree[v] === 0) queue.push(v);
    }
  }
  return layer;
}

/** Orders each layer by 4 down/up barycenter sweeps, keeping the given order where there is no pull. */
function order(count: number, lay: number[], edges: [number, number][]): number[][] {
  const layers: number[][] = [];
  for (let i = 0; i < count; i++) (layers[lay[i] ?? 0] ??= []).push(i);
  for (let l = 0; l < layers.length; l++) layers[l] ??= [];
  const up: number[][] = Array.from({ length: count }, () => []);
  const down: number[][] = Array.from({ length: count }, () => []);
  for (const [u, v] of edges) {
    up[v]?.push(u);
    down[u]?.push(v);
  }
  const pos = new Array<number>(count).fill(0);
  const index = () => layers.forEach((nodes) => nodes.forEach((v, i) => (pos[v] = i)));
  index();
  const sweep = (l: number, neighbours: number[][]) => {
    const nodes = layers[l] ?? [];
    const key = new Map<number, number>();
    for (const v of nodes) {
      const ns = neighbours[v] ?? [];
      key.set(v, ns.length ? ns.reduce((s, u) => s + (pos[u] ?? 0), 0) / ns.length : (pos[v] ?? 0));
    }
    nodes.sort((a, b) => (key.get(a) ?? 0) - (key.get(b) ?? 0) || (pos[a] ?? 0) - (pos[b] ?? 0));
    nodes.forEach((v, i) => (pos[v] = i));
  };
  for (let round = 0; round < 4; round++) {
    for (let l = 1; l < layers.length; l++) sweep(l, up);
    for (let l = layers.length - 2; l >= 0; l--) sweep(l, down);
  }
  return layers;
}

/** Stacks each layer top-down, each node as near its predecessors' centre as the ones above allow. */
function place(layers: number[][], heights: number[], edges: [number, number][], gap: number): number[] {
  const y = new Array<number>(heights.length).fill(0);
  const up: number[][] = Array.from({ length: heights.length }, () => []);
  for (const [u, v] of edges) up[v]?.push(u);
  for (const nodes of layers) {
    let bottom = -gap;
    for (const v of nodes) {
      const h = heights[v] ?? 0;
      const preds = up[v] ?? [];
      const want = preds.length
        ? preds.reduce((s, u) => s + (y[u] ?? 0) + (heights[u] ?? 0) / 2, 0) / preds.length - h / 2
        : 0;
      y[v] = Math.max(bottom + gap, want);
      bottom = (y[v] ?? 0) + h;
    }
  }
  return y;
}
