import type { FastifyRequest } from 'fastify';
import { notFound } from '../../app/errors.js';
import type { DeployRun, Environment, Release } from '../../ports/deployment-store.js';
import type { Repo, RepoRole, User } from '../../ports/directory-store.js';
import type { ServerContext } from '../context.js';
import { deployRunJson } from '../deploy-json.js';

export type P = { projectId: string };

/**
 * What the deployment routes share: the project a path names (a repository the caller may use),
 * loaders that answer 404, per-request lookups for the JSON's nested objects, and the audit log.
 */
export function deployHelpers(ctx: ServerContext) {
  const { deployments } = ctx.deploy;
  const { directory, clock, newId } = ctx.services;
  const project = async (request: FastifyRequest, role: RepoRole | 'reader'): Promise<Repo> => {
    const id = (request.params as P).projectId;
    const repo = /^[0-9a-f-]{36}$/i.test(id) ? await directory.findRepoById(id.toLowerCase()) : undefined;
    return ctx.access.repo(request.principal, repo, role, `project ${id}`);
  };
  const user = (request: FastifyRequest): User => ctx.access.requireUser(request.principal);
  const lookups = (repo: Repo) => {
    const users = new Map<string, Promise<User | undefined>>();
    const releases = new Map<string, Promise<Release | undefined>>();
    const envs = new Map<string, Promise<Environment | undefined>>();
    const once = <T>(map: Map<string, Promise<T>>, id: string, load: () => Promise<T>) => {
      let hit = map.get(id);
      if (!hit) map.set(id, (hit = load()));
      return hit;
    };
    return {
      users: (id: string | undefined) =>
        id ? once(users, id, () => directory.findUserById(id)) : Promise.resolve(undefined),
      releases: (id: string | undefined) =>
        id ? once(releases, id, () => deployments.findRelease(repo.id, id)) : Promise.resolve(undefined),
      envs: (id: string) => once(envs, id, () => deployments.findEnvironment(repo.id, id)),
    };
  };
  const runJson = async (repo: Repo, run: DeployRun) => {
    const l = lookups(repo);
    return deployRunJson(run, l.users, l.releases, l.envs);
  };
  const getRun = async (repo: Repo, id: string) => {
    const run = await deployments.findRun(repo.id, id);
    if (!run) throw notFound(`deployment run ${id} not found`);
    return run;
  };
  const getRelease = async (repo: Repo, id: string) => {
    const release = await deployments.findRelease(repo.id, id);
    if (!release) throw notFound(`release ${id} not found`);
    return release;
  };
  const getEnv = async (repo: Repo, id: string) => {
    const env = await deployments.findEnvironment(repo.id, id);
    if (!env) throw notFound(`environment ${id} not found`);
    return env;
  };
  const audit = (repo: Repo, action: string, actor: User, data: Record<string, unknown>) =>
    deployments.insertAudit({
      id: newId(),
      projectId: repo.id,
      at: clock.now(),
      actorId: actor.id,
      action,
      type: 'environment',
      data,
    });

  return { project, user, lookups, runJson, getRun, getRelease, getEnv, audit };
}
