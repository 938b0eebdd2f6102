import { randomUUID } from 'node:crypto';
import swagger from '@fastify/swagger';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
} from 'fastify';
import { AppError } from '../app/errors.js';
import type { ServerContext } from './context.js';
import { toErrorBody } from './http-errors.js';
import { orgRoutes } from './routes/orgs.js';
import { repoRoutes } from './routes/repos.js';
import { runRoutes } from './routes/runs.js';
import { streamRoutes } from './routes/streams.js';
import { userRoutes } from './routes/users.js';
import { webhookRoutes } from './routes/webhooks.js';
import { artifactDownloadRoutes } from './routes/artifact-downloads.js';
import { deploymentRoutes } from './routes/deployments.js';
import { environmentRoutes } from './routes/environments.js';
import { releaseRoutes } from './routes/releases.js';
import { oidcRoutes, serviceConnectionRoutes } from './routes/service-connections.js';
import { SHARED_SCHEMAS } from './schemas.js';
import { sessionRoutes } from './routes/session.js';
import { repoBrowseRoutes } from './routes/repo-browse.js';
import { logViewRoutes } from './routes/log-view.js';
import { deployStreamRoutes } from './routes/deploy-stream.js';
import { runsStreamRoutes } from './routes/runs-stream.js';
import { authenticateRequest } from './ui/authenticate-request.js';
import { uiRoutes } from './ui/ui-routes.js';
import { workerAdminRoutes } from './routes/workers.js';
import { workerProtocolRoutes } from './routes/worker-protocol.js';
import { workerTaskFileRoutes } from './routes/worker-task-files.js';

export const BODY_LIMIT = 1024 * 1024;

/** The HTTP API: routes, authentication, request ids and one error body for everything. */
export async function buildApp(ctx: ServerContext): Promise<FastifyInstance> {
  const app = Fastify({
    // The operator log's pino; requests are not logged one by one (runs and webhooks are).
    ...(ctx.ops
      ? {
          loggerInstance: ctx.ops.logger as unknown as FastifyBaseLogger,
          logController: new LogController({ disableRequestLogging: true }),
        }
      : { logger: false }),
    bodyLimit: BODY_LIMIT,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && /^[A-Za-z0-9._-]{1,128}$/.test(given) ? given : randomUUID();
    },
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: true } },
    // Errors before routing (a path that is not valid percent-encoding, `%FF`) get the catalogue's
    // body too (D18).
    frameworkErrors: (error, request, reply) => {
      const { status, body } = toErrorBody(error, request.id);
      void (reply as FastifyReply).code(status).header('x-request-id', request.id).send(body);
    },
  });
  // The API takes JSON only: any other body is a 415 (D18), not a string that fails the schema.
  app.removeContentTypeParser('text/plain');
  // Response schemas document the API; bodies are serialized as they are, extra fields included.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  for (const schema of SHARED_SCHEMAS) app.addSchema(schema);
  await app.register(swagger, {
    openapi: {
      info: {
        title: 'Conveyor API',
        version: '0.1.0',
        description: 'SourceCraft-compatible CI/CD API of Conveyor',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
    refResolver: {
      buildLocalReference: (json, _base, _fragment, i) =>
        typeof json.$id === 'string' ? json.$id : `def-${i}`,
    },
  });

  app.decorateRequest('principal', null as never); // set by the onRequest hook below
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
    // The worker protocol authenticates worker and task tokens itself (routes/worker-protocol.ts).
    if (request.url.startsWith('/worker/')) {
      request.principal = {};
      return;
    }
    request.principal = await authenticateRequest(ctx, request);
  });
  app.setErrorHandler((error, request, reply) => {
    const { status, body } = toErrorBody(error, request.id);
    if (status >= 500)
      ctx.log(
        `request ${request.id} ${request.method} ${request.url} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
      );
    return reply.code(status).type('application/json').send(body);
  });
  app.setNotFoundHandler((request) => {
    throw new AppError(
      'NotFound',
      `no route ${request.method} ${request.url.split('?')[0] ?? ''}; see GET /openapi.json`,
    );
  });

  app.get('/healthz', { schema: { hide: true } }, () => Promise.resolve({ status: 'ok' }));
  app.get('/openapi.json', { schema: { hide: true } }, () => Promise.resolve(app.swagger()));
  await app.register(userRoutes(ctx));
  await app.register(orgRoutes(ctx));
  await app.register(repoRoutes(ctx));
  await app.register(runRoutes(ctx));
  await app.register(streamRoutes(ctx));
  await app.register(webhookRoutes(ctx));
  await app.register(artifactDownloadRoutes(ctx));
  await app.register(environmentRoutes(ctx));
  await app.register(releaseRoutes(ctx));
  await app.register(deploymentRoutes(ctx));
  await app.register(serviceConnectionRoutes(ctx));
  await app.register(oidcRoutes(ctx));
  await app.register(sessionRoutes(ctx));
  await app.register(repoBrowseRoutes(ctx));
  await app.register(logViewRoutes(ctx));
  await app.register(deployStreamRoutes(ctx));
  await app.register(runsStreamRoutes(ctx));
  await app.register(uiRoutes(ctx.uiDir));
  await app.register(workerAdminRoutes(ctx));
  await app.register(workerProtocolRoutes(ctx));
  await app.register(workerTaskFileRoutes(ctx));
  return app;
}
