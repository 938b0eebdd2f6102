import type { RunRecord } from '../core/run/model.js';
import type { Repo } from '../ports/directory-store.js';

/** Turns a run into response bodies: the API's JSON, masked, with signed artifact links (server/). */
export interface ViewRenderer {
  run(repo: Repo, run: RunRecord): Promise<string>;
  /** The body of one workflow of the run; undefined when the run has none of that slug. */
  workflow(repo: Repo, run: RunRecord, slug: string): Promise<string | undefined>;
}

/**
 * The sum of every node's version: each store write bumps at least one node, so it grows with
 * every change and two replicas that read the same stored run compute the same number.
 */
export function treeVersion(run: RunRecord): number {
  let sum = run.version;
  for (const w of run.workflows) {
    sum += w.version;
    for (const t of w.tasks) {
      sum += t.version;
      for (const c of t.cubes) sum += c.version;
    }
  }
  return sum;
}

/**
 * One run as every reader sees it: a snapshot at a revision, and its bodies rendered once per
 * revision (re-rendered after `bodyMaxAgeMs`, so signed links in them stay valid). LiveViews
 * keeps it current; readers only read.
 */
export class LiveView {
  /** Grows by one each time the snapshot changes (per process; see `etag`). */
  revision = 0;
  /** The store's tree version the snapshot was read (or written) at. */
  storeVersion: number;
  /** When the store was last asked whether the run changed. */
  checkedAt: number;
  readAt: number;
  checking: Promise<void> | undefined;
  private readonly bodies = new Map<string, { at: number; body: Promise<string | undefined> }>();
  private readonly listeners = new Set<() => void>();
  private readonly tag: string;

  constructor(
    public run: RunRecord,
    now: number,
    private readonly render: ViewRenderer,
    private readonly bodyMaxAgeMs: number,
    private readonly generation: () => number,
    instance: number,
  ) {
    this.storeVersion = treeVersion(run);
    this.checkedAt = now;
    this.readAt = now;
    this.tag = `${run.id.slice(0, 8)}.${instance.toString(36)}`;
  }

  /** A weak ETag naming this process's view, its revision and the masking generation. */
  etag(): string {
    return `W/"${this.tag}.${this.revision}.${this.generation()}"`;
  }

  /** The serialized run at the current revision. */
  async runBody(repo: Repo, now: number): Promise<string> {
    return (await this.cached('run', now, () => this.render.run(repo, this.run))) ?? '';
  }

  /** The serialized workflow `slug` at the current revision; undefined when the run has none. */
  workflowBody(repo: Repo, slug: string, now: number): Promise<string | undefined> {
    return this.cached(`w:${slug}`, now, () => this.render.workflow(repo, this.run, slug));
  }

  private cached(key: string, now: number, make: () => Promise<string | undefined>) {
    const hit = this.bodies.get(key);
    if (hit && now - hit.at < this.bodyMaxAgeMs) return hit.body;
    const body = make();
    // A failed render is not kept: the next reader tries again.
    body.catch(() => this.bodies.get(key)?.body === body && this.bodies.delete(key));
    this.bodies.set(key, { at: now, body });
    return body;
  }

  /** Replaces the snapshot: a new revision, no bodies yet; listeners (streams) hear it. */
  replace(run: RunRecord, storeVersion: number): void {
    this.run = run;
    this.storeVersion = storeVersion;
    this.revision++;
    this.bodies.clear();
    this.notify();
  }

  /** Tells the listeners (streams) that the run changed; they read the view again. */
  notify(): void {
    for (const listener of [...this.listeners]) listener();
  }

  /** Drops rendered bodies (secrets changed: they were masked with the old values). */
  forgetBodies(): void {
    this.bodies.clear();
  }

  /** Calls `listener` after each new revision; returns the unsubscribe function. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get watched(): boolean {
    return this.listeners.size > 0;
  }
}
