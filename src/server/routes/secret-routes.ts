import type { FastifyInstance, FastifyRequest } from 'fastify';
import { notFound } from '../../app/errors.js';
import type { SecretScope } from '../../ports/directory-store.js';
import type { ServerContext } from '../context.js';
import { SecretBody, SecretName } from '../schemas.js';

type Resolve = (request: FastifyRequest) => Promise<string>;

/**
 * Write-only secrets of one scope under `base` (`.../cicd/secrets`): PUT sets, DELETE removes, GET
 * lists names and update times. Values are encrypted before they are stored and never returned.
 */
export function secretRoutes(
  app: FastifyInstance,
  ctx: ServerContext,
  scope: SecretScope,
  bases: string[],
  scopeId: Resolve,
  /** Told after a secret was set or deleted (the deployment audit log). */
  changed: (request: FastifyRequest, action: 'set' | 'deleted', name: string) => Promise<void> = () =>
    Promise.resolve(),
): void {
  const { directory, clock } = ctx.services;
  const params = { type: 'object', properties: { name: SecretName }, additionalProperties: true } as const;
  for (const base of bases) {
    app.get(base, { schema: { tags: ['Secrets'] } }, async (request) => {
      const id = await scopeId(request);
      const secrets = await directory.listSecrets(scope, id);
      return {
        secrets: secrets.map((s) => ({ name: s.name, updated_at: new Date(s.updatedAt).toISOString() })),
      };
    });
    app.put<{ Params: { name: string }; Body: SecretBody }>(
      `${base}/:name`,
      { schema: { body: SecretBody, params, tags: ['Secrets'] } },
      async (request, reply) => {
        const id = await scopeId(request);
        await directory.putSecret(
          scope,
          id,
          request.params.name,
          ctx.box.encrypt(request.body.value),
          clock.now(),
        );
        ctx.view.forget(id);
        await changed(request, 'set', request.params.name);
        return reply.code(204).send();
      },
    );
    app.delete<{ Params: { name: string } }>(
      `${base}/:name`,
      { schema: { params, tags: ['Secrets'] } },
      async (request, reply) => {
        const id = await scopeId(request);
        if (!(await directory.deleteSecret(scope, id, request.params.name)))
          throw notFound(`secret '${request.params.name}' not found`);
        ctx.view.forget(id);
        await changed(request, 'set', request.params.name);
        return reply.code(204).send();
      },
    );
  }
}
