import { LogMasker } from '../core/run/mask.js';
import type { ArtifactRecord, CubeRun, RunRecord, TaskRun, WorkflowRun } from '../core/run/model.js';
import type { Repo, SecretScope } from '../ports/directory-store.js';
import { runJson, workflowJson, type PresentOptions } from '../transport/run-json.js';
import type { ServerContext } from './context.js';
import { notFound } from '../app/errors.js';
import type { ViewRenderer } from '../app/live-views.js';
import { isTerminal } from '../core/run/status.js';
import { WORKER_OFFLINE_AFTER_MS } from './routes/workers.js';
import { artifactPrefix } from '../artifacts/blob-artifact-store.js';

/** How long a rendered body is served (app/live-views.ts); signed links in it outlive that. */
export const BODY_MAX_AGE_MS = 30_000;

/**
 * How runs are shown over the API: secret values masked everywhere (outputs, messages), and
 * artifacts linked by signed URLs that expire. Maskers are cached per repository for a few seconds
 * and dropped when its secrets change.
 */
export class RunView {
  private readonly maskers = new Map<string, { masker: LogMasker; until: number }>();

  constructor(private readonly ctx: ServerContext) {}

  /** The bodies of GetRun and GetWorkflow, rendered once per revision of a run's live view. */
  readonly renderer: ViewRenderer = {
    run: async (repo, run) => JSON.stringify(runJson(run, await this.options(repo, run))),
    workflow: async (repo, run, slug) => {
      const workflow = run.workflows.find((w) => w.slug === slug);
      return workflow && JSON.stringify(workflowJson(workflow, await this.options(repo, run)));
    },
  };

  forget(scopeId: string): void {
    this.ctx.live.forgetBodies(); // masked with the old secrets
    if (this.maskers.delete(scopeId)) {
      for (const key of this.maskers.keys()) if (key.startsWith(`${scopeId}/`)) this.maskers.delete(key);
      return;
    }
    // An organization's secrets changed: its repositories' maskers are stale too.
    this.maskers.clear();
  }

  async options(repo: Repo, run: RunRecord): Promise<PresentOptions> {
    const masker = await this.masker(repo, run.context.environmentId);
    // Rounded up to a minute, so a cached body's links stay valid for at least the TTL.
    const expires =
      Math.ceil((this.ctx.services.clock.now() + this.ctx.artifactUrlTtlMs + BODY_MAX_AGE_MS) / 60_000) *
      60_000;
    const waiting = isTerminal(run.status) ? new Map<string, string>() : await this.waiting(run);
    return {
      mask: (text) => masker.maskText(text),
      taskMessage: (task) => waiting.get(task.id),
      artifactUrl: (artifact, path) => {
        if (artifact.status !== 'success') return undefined;
        const index = this.artifactIndex(run, path, artifact);
        const target = `/artifacts/${repo.id}/${run.slug}/${encodeURIComponent(path.workflow)}/${encodeURIComponent(path.task)}/${encodeURIComponent(path.cube)}/${index}`;
        const signature = this.ctx.box.sign(`${target}|${expires}`);
        return `${this.ctx.baseUrl()}${target}?expires=${expires}&signature=${signature}`;
      },
    };
  }

  /**
   * The run's tasks queued for a worker while no connected worker could take them, with
   * `waiting for a worker with tags […]`; a task a worker took (or one that could) has none.
   */
  private async waiting(run: RunRecord): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    if (!run.workflows.some((w) => w.tasks.some((t) => t.status === 'processing'))) return out;
    const { store } = this.ctx.workers;
    const queued = (await store.listOpenTasks()).filter((r) => r.runId === run.id && r.state === 'queued');
    if (queued.length === 0) return out;
    const now = this.ctx.services.clock.now();
    const connected = (await store.listWorkers()).filter(
      (w) => w.state === 'online' && now - w.lastSeenAt < WORKER_OFFLINE_AFTER_MS,
    );
    for (const row of queued) {
      const able = connected.some((w) =>
        row.tags.length === 0 ? w.untagged : row.tags.every((tag) => w.tags.includes(tag)),
      );
      if (!able)
        out.set(
          row.taskId,
          row.tags.length === 0
            ? "waiting for a worker that takes untagged tasks (conveyor worker --untagged, or the server's --embedded-workers)"
            : `waiting for a worker with tags [${['self-hosted', ...row.tags].join(', ')}]`,
        );
    }
    return out;
  }

  /**
   * A presigned URL of the store itself for a single-file artifact when the store can sign one
   * (S3), valid for the artifact link TTL: the bytes then never pass through a replica.
   */
  async directDownloadUrl(repoId: string, artifact: ArtifactRecord): Promise<string | undefined> {
    const { blobs } = this.ctx;
    const file = artifact.files.length === 1 ? artifact.files[0] : undefined;
    if (blobs.kind !== 's3' || artifact.status !== 'success' || !file || !artifact.location) return undefined;
    const key = blobs.keyOf(artifact.location);
    if (!key?.startsWith(artifactPrefix(repoId)) || !key.endsWith(`/${file.path}`)) return undefined;
    return blobs.downloadUrl(key, {
      expiresInS: Math.ceil(this.ctx.artifactUrlTtlMs / 1000),
      filename: file.path.split('/').pop() ?? 'artifact',
    });
  }

  private artifactIndex(
    run: RunRecord,
    path: { workflow: string; task: string; cube: string },
    artifact: ArtifactRecord,
  ): number {
    const cube = findCube(run, path.workflow, path.task, path.cube);
    return cube ? cube.cube.artifacts.indexOf(artifact) : -1;
  }

  /**
   * The secrets a run of `repo` could have used: its organization's and its own, and a deployment
   * run's environment's (D3). Outputs are also stored masked, so this covers runs stored before.
   */
  async masker(repo: Repo, environmentId?: string): Promise<LogMasker> {
    const now = this.ctx.services.clock.now();
    const key = environmentId ? `${repo.id}/${environmentId}` : repo.id;
    const cached = this.maskers.get(key);
    if (cached && cached.until > now) return cached.masker;
    const { directory } = this.ctx.services;
    const values: string[] = [];
    const scopes: [SecretScope, string][] = [
      ['org', repo.orgId],
      ['repo', repo.id],
    ];
    if (environmentId) scopes.push(['env', environmentId]);
    for (const [scope, id] of scopes)
      for (const enc of Object.values(await directory.secretValues(scope, id)))
        values.push(this.ctx.box.decrypt(enc));
    const masker = new LogMasker(values);
    this.maskers.set(key, { masker, until: now + 5000 });
    return masker;
  }
}

export function findCube(
  run: RunRecord,
  workflow: string,
  task: string,
  cube: string,
): { workflow: WorkflowRun; task: TaskRun; cube: CubeRun } | undefined {
  const w = run.workflows.find((x) => x.slug === workflow);
  const t = w?.tasks.find((x) => x.slug === task);
  const c = t?.cubes.find((x) => x.slug === cube);
  return w && t && c ? { workflow: w, task: t, cube: c } : undefined;
}

export function getCube(run: RunRecord, workflow: string, task: string, cube: string) {
  const found = findCube(run, workflow, task, cube);
  if (!found) throw notFound(`cube ${workflow}/${task}/${cube} not found in run ${run.slug}`);
  return found;
}
