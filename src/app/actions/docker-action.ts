import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { interpolate } from '../../core/actions/expr.js';
import type { ImageDef } from '../../core/config/model.js';
import type { ActionRun, LoadedAction } from './run-action.js';
import { within } from './step-process.js';

/**
 * A docker action: `runs.image` is `docker://image` or a Dockerfile in the action, built once per
 * action commit with the container runtime (`podman build` here). pre-entrypoint, the entrypoint
 * and post-entrypoint run in that image like container cubes: the task directory at /sourcecraft,
 * the workspace (GITHUB_WORKSPACE) at /sourcecraft/workspace as the working directory.
 */
export async function runDocker(
  rt: ActionRun,
  action: LoadedAction,
  inputs: Record<string, string>,
  stepEnv: Record<string, string>,
): Promise<Record<string, string> | undefined> {
  const runs = action.meta.runs;
  if (runs.using !== 'docker') return undefined;
  const image = await imageOf(rt, action, runs.image);
  if (!image) return undefined;
  const ctx = rt.context(action, inputs, {});
  const direct = action.ref.kind === 'docker';
  const args = direct ? splitWords(inputs.args ?? '') : runs.args.map((a) => interpolate(a, ctx));
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(runs.env)) env[k] = interpolate(v, ctx);
  const main = direct ? inputs.entrypoint || undefined : runs.entrypoint;
  const entrypoints = { pre: runs.preEntrypoint, main, post: runs.postEntrypoint };
  return rt.runPhases(
    action,
    inputs,
    {
      pre: runs.preEntrypoint ? (runs.preIf ?? 'always()') : undefined,
      post: runs.postEntrypoint ? (runs.postIf ?? 'always()') : undefined,
    },
    (phase, stateEnv) => {
      const entrypoint = entrypoints[phase];
      const spec: ImageDef = { name: image, args, ...(entrypoint ? { entrypoint: [entrypoint] } : {}) };
      return {
        label: `run ${action.label} (${phase}, image ${image})`,
        image: spec,
        env: { ...rt.baseEnv(), ...rt.actionEnv(action, inputs), ...env, ...stepEnv, ...stateEnv },
        path: [],
      };
    },
  );
}

/** The image to run: pulled by name (docker://), or built from the action's Dockerfile. */
async function imageOf(rt: ActionRun, action: LoadedAction, image: string): Promise<string | undefined> {
  if (image.startsWith('docker://')) return image.slice('docker://'.length);
  const builder = rt.req.deps.images;
  if (!builder)
    return rt.fail(
      `${action.label} builds an image, and no container runtime is configured (set CONVEYOR_CONTAINER_RUNTIME)`,
    );
  const file = join(action.dir, image);
  const context = dirname(file);
  if (!within(action.root, file))
    return rt.fail(`${action.label}: runs.image ${image} is not a file inside the action`);
  const version = action.version || contentHash(context);
  const name = (
    action.ref.kind === 'repo'
      ? `${action.ref.owner}-${action.ref.repo}-${action.ref.path}`
      : `local-${action.ref.kind === 'local' ? action.ref.path : ''}`
  )
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[-.]+|[-.]+$/g, '');
  const tag = `localhost/conveyor-action-${name || 'root'}:${version.slice(0, 20)}`;
  rt.host.note(`${action.label}: image ${tag} from ${relative(action.dir, file) || basename(file)}`);
  const result = await builder.ensure(tag, context, basename(file), (chunk) => rt.host.write(chunk));
  if (result.error) return rt.fail(`${action.label}: building ${image} failed: ${result.error}`);
  rt.host.note(result.built ? `built ${tag}` : `${tag} is already built`);
  return tag;
}

/** A hash of a local action's build context (names, sizes, contents), so a change rebuilds it. */
function contentHash(dir: string): string {
  const hash = createHash('sha256');
  const walk = (d: string): void => {
    for (const entry of readdirSync(d, { withFileTypes: true }).sort((a, b) =>
      a.name.localeCompare(b.name),
    )) {
      const path = join(d, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile() && statSync(path).size < 8 * 1024 * 1024)
        hash.update(relative(dir, path)).update('\0').update(readFileSync(path)).update('\0');
    }
  };
  walk(dir);
  return hash.digest('hex');
}

/** `with: {args}` of a `docker://` step: words, single or double quotes grouping. */
function splitWords(text: string): string[] {
  return [...text.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3] ?? '');
}
