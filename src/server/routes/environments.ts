import type { FastifyInstance } from 'fastify';
import { parseDuration } from '../../core/config/duration.js';
import type { Environment } from '../../ports/deployment-store.js';
import type { ServerContext } from '../context.js';
import { environmentJson } from '../deploy-json.js';
import { plugin } from '../plugin.js';
import { CreateEnvironmentBody, UpdateEnvironmentBody } from '../schemas.js';
import { deployHelpers, type P } from './deploy-helpers.js';
import { secretRoutes } from './secret-routes.js';

/** GoRules' environments (docs/deployments.md), with Conveyor's deploy workflow, timeout and secrets. */
export function environmentRoutes(ctx: ServerContext) {
  const { deployments } = ctx.deploy;
  const { clock, newId } = ctx.services;
  const { project, user, lookups, getEnv, audit } = deployHelpers(ctx);

  return plugin((app: FastifyInstance) => {
    const base = '/api/projects/:projectId';

    app.get(`${base}/environments`, { schema: { tags: ['Environment'] } }, async (request) => {
      const repo = await project(request, 'reader');
      const l = lookups(repo);
      return Promise.all(
        (await deployments.listEnvironments(repo.id)).map((env) => environmentJson(env, l.releases)),
      );
    });

    app.post<{ Params: P; Body: CreateEnvironmentBody }>(
      `${base}/environments`,
      { schema: { body: CreateEnvironmentBody, tags: ['Environment'] } },
      async (request, reply) => {
        const repo = await project(request, 'maintainer');
        const by = user(request);
        const now = clock.now();
        const env: Environment = {
          id: newId(),
          projectId: repo.id,
          name: '',
          key: '',
          type: 'brms',
          addToWorkflow: false,
          workflowOrder: 0,
          requiredReviewers: false,
          reviewers: [],
          approvalMode: 'none',
          approvalGroups: [],
          createdAt: now,
          updatedAt: now,
          version: 0,
        };
        applyEnvironment(env, request.body);
        await deployments.insertEnvironment(env);
        await audit(repo, 'environment_created', by, { environmentId: env.id, key: env.key });
        return reply.code(201).send(await environmentJson(env, lookups(repo).releases));
      },
    );

    app.put<{ Params: P & { environmentId: string }; Body: UpdateEnvironmentBody }>(
      `${base}/environments/:environmentId`,
      { schema: { body: UpdateEnvironmentBody, tags: ['Environment'] } },
      async (request) => {
        const repo = await project(request, 'maintainer');
        const by = user(request);
        const env = await getEnv(repo, request.params.environmentId);
        applyEnvironment(env, request.body);
        env.updatedAt = clock.now();
        await deployments.saveEnvironment(env);
        await audit(repo, 'environment_updated', by, {
          environmentId: env.id,
          key: env.key,
          changed: Object.keys(request.body),
        });
        return environmentJson(env, lookups(repo).releases);
      },
    );

    secretRoutes(
      app,
      ctx,
      'env',
      [`${base}/environments/:environmentId/secrets`],
      async (request) => {
        const repo = await project(request, 'maintainer');
        return (await getEnv(repo, (request.params as { environmentId: string }).environmentId)).id;
      },
      async (request, action, name) => {
        const repo = await project(request, 'maintainer');
        const envId = (request.params as { environmentId: string }).environmentId;
        await audit(repo, `environment_secret_${action}`, user(request), { environmentId: envId, name });
      },
    );
  });
}

function applyEnvironment(env: Environment, body: Partial<CreateEnvironmentBody>): void {
  if (body.name !== undefined) env.name = body.name;
  if (body.key !== undefined) env.key = body.key;
  if (body.type !== undefined) env.type = body.type;
  if (body.addToWorkflow !== undefined) env.addToWorkflow = body.addToWorkflow;
  if (body.workflowOrder !== undefined) env.workflowOrder = body.workflowOrder;
  if (body.requiredReviewers !== undefined) env.requiredReviewers = body.requiredReviewers;
  if (body.reviewers !== undefined) env.reviewers = body.reviewers.map((r) => r.id);
  if (body.approvalMode !== undefined) env.approvalMode = body.approvalMode;
  if (body.approvalGroups !== undefined)
    env.approvalGroups = body.approvalGroups.map((g) => ({
      id: g.id,
      name: g.name ?? g.id,
      members: (g.members ?? []).map((m) => m.id),
    }));
  if (body.workflow !== undefined) {
    if (body.workflow === null) delete env.workflow;
    else env.workflow = body.workflow;
  }
  if (body.approvalTimeout !== undefined) {
    if (body.approvalTimeout === null) delete env.approvalTimeoutMs;
    else env.approvalTimeoutMs = parseDuration(body.approvalTimeout) ?? undefined;
  }
}

/** Copies the stored artifacts of a CI run into release storage, with their digests. */
