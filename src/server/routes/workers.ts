import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { notFound } from '../../app/errors.js';
import { hashToken, newToken } from '../../app/secret-box.js';
import type { WorkerRecord, WorkerTokenRecord } from '../../ports/worker-store.js';
import type { ServerContext } from '../context.js';
import { plugin } from '../plugin.js';

const CreateWorkerTokenBody = Type.Object(
  { note: Type.Optional(Type.String({ maxLength: 1024 })) },
  { additionalProperties: false },
);
type CreateWorkerTokenBody = Static<typeof CreateWorkerTokenBody>;

/** A worker not heard from for this long is shown `offline` (it long-polls every 25 s at most). */
export const WORKER_OFFLINE_AFTER_MS = 60_000;

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

export function workerTokenJson(t: WorkerTokenRecord) {
  return {
    id: t.id,
    note: t.note,
    created_at: iso(t.createdAt),
    ...(t.revokedAt !== undefined ? { revoked_at: iso(t.revokedAt) } : {}),
    ...(t.lastUsedAt !== undefined ? { last_used_at: iso(t.lastUsedAt) } : {}),
  };
}

export function workerJson(w: WorkerRecord, now: number) {
  return {
    name: w.name,
    tags: w.tags,
    untagged: w.untagged,
    slots: w.slots,
    running: w.running,
    version: w.version,
    executor: w.executor,
    containment: w.containment,
    state: w.state !== 'offline' && now - w.lastSeenAt > WORKER_OFFLINE_AFTER_MS ? 'offline' : w.state,
    token_id: w.tokenId,
    registered_at: iso(w.registeredAt),
    last_seen_at: iso(w.lastSeenAt),
  };
}

/** Administration of workers: their tokens and the list of workers that registered. */
export function workerAdminRoutes(ctx: ServerContext): FastifyPluginAsync {
  const { access } = ctx;
  const { clock, newId } = ctx.services;
  const store = ctx.workers.store;
  const tags = ['Workers'];
  return plugin((app) => {
    app.post<{ Body: CreateWorkerTokenBody }>(
      '/workers/tokens',
      { schema: { body: CreateWorkerTokenBody, tags } },
      async (request, reply) => {
        const admin = access.requireAdmin(request.principal);
        const token = `cvw_${newToken()}`;
        const record: WorkerTokenRecord = {
          id: newId(),
          note: request.body?.note ?? '',
          createdAt: clock.now(),
          createdBy: admin.id,
        };
        await store.insertToken(record, hashToken(token));
        return reply.code(201).send({ ...workerTokenJson(record), token });
      },
    );
    app.get('/workers/tokens', { schema: { tags } }, async (request) => {
      access.requireAdmin(request.principal);
      return { tokens: (await store.listTokens()).map(workerTokenJson) };
    });
    app.delete<{ Params: { token_id: string } }>(
      '/workers/tokens/:token_id',
      { schema: { tags } },
      async (request, reply) => {
        access.requireAdmin(request.principal);
        if (!(await store.revokeToken(request.params.token_id, clock.now())))
          throw notFound(`worker token ${request.params.token_id} not found or already revoked`);
        ctx.workers.forgetTokens();
        return reply.code(204).send();
      },
    );
    app.get('/workers', { schema: { tags } }, async (request) => {
      access.requireAdmin(request.principal);
      const now = clock.now();
      return { workers: (await store.listWorkers()).map((w) => workerJson(w, now)) };
    });
  });
}
