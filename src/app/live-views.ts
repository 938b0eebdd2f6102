import type { RunRecord } from '../core/run/model.js';
import { isTerminal } from '../core/run/status.js';
import type { Clock } from '../ports/clock.js';
import type { Repo } from '../ports/directory-store.js';
import type { RunChanges, RunStore } from '../ports/run-store.js';
import { withCommitted } from './live-commits.js';
import { LiveView, treeVersion, type ViewRenderer } from './live-view.js';

export { LiveView, treeVersion, type ViewRenderer };

export interface LiveViewsOptions {
  store: Pick<RunStore, 'findRun' | 'runVersion'>;
  clock: Clock;
  render: ViewRenderer;
  /** How long a view is served before the store is asked whether the run changed elsewhere. */
  checkMs?: number;
  /** How long a rendered body is reused at one revision (the signed links in it must stay valid). */
  bodyMaxAgeMs?: number;
  maxViews?: number;
  /** false: every read goes to the store and renders again (the behaviour before views; benchmarks). */
  enabled?: boolean;
  /** Told after each write an engine of this process committed (the other replicas are told). */
  onCommitted?: (runId: string) => void;
}

const DEFAULTS = { checkMs: 200, bodyMaxAgeMs: 30_000, maxViews: 1000, onCommitted: () => undefined };

/**
 * One in-memory view per run being read, shared by every reader and stream of this process
 * (docs/scaling.md, "Live views"). A view is exactly a state the store had, never ahead of it (a
 * client that saw a run end may act on it at once, and the store agrees):
 * - a run executing here: each write its engine commits is applied to the view as it was written
 *   (`observe`), so the view moves with the store without reading it;
 * - any run: the store's tree version is checked at most every `checkMs` (one small query,
 *   whoever asks) and the tree read again only when it moved; `revalidate` checks at once, and
 *   `invalidate` (a cross-replica notification) makes the next read check;
 * - a finished run never changes again: its view is never checked.
 * Bodies are rendered once per revision. Access checks are the caller's, per request.
 */
export class LiveViews {
  private readonly views = new Map<string, LiveView>();
  private readonly byId = new Map<string, LiveView>();
  private readonly loading = new Map<string, Promise<LiveView | undefined>>();
  /** Writes committed while a view was loading: its read may have been taken before them. */
  private readonly duringLoads: { runId: string; written: RunChanges }[] = [];
  private readonly o: Required<LiveViewsOptions>;
  private generation = 0;
  private instances = 0;

  constructor(options: LiveViewsOptions) {
    this.o = { ...DEFAULTS, enabled: true, ...options };
  }

  /** The view of run `slug` of `repo`, current as described above; undefined when there is no such run. */
  async get(repo: Repo, slug: string, revalidate = false): Promise<LiveView | undefined> {
    const now = this.o.clock.now();
    if (!this.o.enabled) {
      const run = await this.o.store.findRun(repo.id, slug);
      return run && this.newView(run, now);
    }
    const key = `${repo.id}/${slug}`;
    const view = this.views.get(key);
    if (!view) return this.load(key, repo.id, slug, now);
    view.readAt = now;
    await this.freshen(view, now, revalidate);
    return this.views.get(key) === view ? view : this.get(repo, slug);
  }

  /** The store a run's engine writes through: each committed write is applied to the run's view. */
  observe<S extends Pick<RunStore, 'applyChanges'>>(store: S, runId: string): S {
    const applyChanges: RunStore['applyChanges'] = async (changes) => {
      // The copy is what is written: the engine may change its nodes while the write is under way.
      const written = structuredClone(changes);
      await store.applyChanges(written);
      const pairs: [{ version: number } | undefined, { version: number } | undefined][] = [
        [changes.run, written.run],
        ...zip(changes.workflows, written.workflows),
        ...zip(changes.tasks, written.tasks),
        ...zip(changes.cubes, written.cubes),
      ];
      for (const [live, copy] of pairs) if (live && copy) live.version = copy.version;
      this.committed(runId, written);
    };
    return new Proxy(store, {
      get(target, property) {
        if (property === 'applyChanges') return applyChanges;
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === 'function' ? (value as () => unknown).bind(target) : value;
      },
    });
  }

  /** The run ended (here, or without an engine): the view is dropped; the next read takes the final record. */
  ended(runId: string): void {
    const view = this.byId.get(runId);
    if (!view) return;
    this.remove(view);
    view.notify();
  }

  /** Another replica changed the run (a notification): the next read asks the store. */
  invalidate(runId: string): void {
    const view = this.byId.get(runId);
    if (!view) return;
    view.checkedAt = Number.NEGATIVE_INFINITY;
    view.notify();
  }

  /** Notifications may have been lost: every view asks the store on its next read. */
  invalidateAll(): void {
    for (const view of this.byId.values()) this.invalidate(view.run.id);
  }

  /** Secrets changed: bodies are rendered again (masked with the new values) under a new ETag. */
  forgetBodies(): void {
    this.generation++;
    for (const view of this.views.values()) view.forgetBodies();
  }

  get size(): number {
    return this.views.size;
  }

  private committed(runId: string, written: RunChanges): void {
    this.o.onCommitted(runId);
    if (this.loading.size > 0) this.duringLoads.push({ runId, written });
    const view = this.byId.get(runId);
    if (view) this.apply(view, written);
  }

  private apply(view: LiveView, written: RunChanges): void {
    const next = withCommitted(view.run, written);
    if (!next) {
      view.checkedAt = Number.NEGATIVE_INFINITY; // a node it lacks: read the tree again
      return;
    }
    const version = treeVersion(next);
    if (version > view.storeVersion) view.replace(next, version);
  }

  private async freshen(view: LiveView, now: number, revalidate: boolean): Promise<void> {
    if (isTerminal(view.run.status)) return;
    if (revalidate)
      await view.checking; // one that began before this request may miss its change
    else if (now - view.checkedAt < this.o.checkMs) return;
    view.checking ??= this.check(view, now).finally(() => (view.checking = undefined));
    await view.checking;
  }

  private async check(view: LiveView, now: number): Promise<void> {
    view.checkedAt = now;
    const version = await this.o.store.runVersion(view.run.id);
    if (version === view.storeVersion) return;
    const run =
      version === undefined ? undefined : await this.o.store.findRun(view.run.repoId, view.run.slug);
    if (!run) {
      this.remove(view);
      return;
    }
    const stored = treeVersion(run);
    if (stored > view.storeVersion) view.replace(run, stored);
  }

  private load(key: string, repoId: string, slug: string, now: number): Promise<LiveView | undefined> {
    let loading = this.loading.get(key);
    if (!loading) {
      loading = (async () => {
        const mark = this.duringLoads.length;
        const run = await this.o.store.findRun(repoId, slug);
        if (!run) return undefined;
        const view = this.newView(run, now);
        // Each node takes a write only when it is newer than what the read saw.
        for (const { runId, written } of this.duringLoads.slice(mark))
          if (runId === run.id) this.apply(view, written);
        if (this.views.size >= this.o.maxViews) this.evict();
        this.views.set(key, view);
        this.byId.set(run.id, view);
        return view;
      })().finally(() => {
        this.loading.delete(key);
        if (this.loading.size === 0) this.duringLoads.length = 0;
      });
      this.loading.set(key, loading);
    }
    return loading;
  }

  private newView(run: RunRecord, now: number): LiveView {
    return new LiveView(
      run,
      now,
      this.o.render,
      this.o.bodyMaxAgeMs,
      () => this.generation,
      ++this.instances,
    );
  }

  /** Drops the least recently inserted tenth of the views nobody streams. */
  private evict(): void {
    let left = Math.max(1, Math.floor(this.o.maxViews / 10));
    for (const view of this.views.values()) {
      if (view.watched) continue;
      this.remove(view);
      if (--left === 0) return;
    }
  }

  private remove(view: LiveView): void {
    const key = `${view.run.repoId}/${view.run.slug}`;
    if (this.views.get(key) === view) this.views.delete(key);
    if (this.byId.get(view.run.id) === view) this.byId.delete(view.run.id);
  }
}

function zip<T>(a: T[] | undefined, b: T[] | undefined): [T | undefined, T | undefined][] {
  return (a ?? []).map((x, i) => [x, b?.[i]]);
}
