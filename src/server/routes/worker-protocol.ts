import { createHash } from 'node:crypto';
import { normalize } from 'node:path';
import { Readable } from 'node:stream';
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { AppError, invalid } from '../../app/errors.js';
import type { RunRecord } from '../../core/run/model.js';
import type { TaskReport } from '../../app/remote-tasks.js';
import type { WorkerTaskRow } from '../../ports/worker-store.js';
import type { ServerContext } from '../context.js';
import { advertiseRefs, uploadPack } from '../git-smart-http.js';
import { plugin } from '../plugin.js';
import { epochOf, taskLease } from './task-lease.js';

const Name = Type.String({ pattern: '^[A-Za-z0-9._-]{1,64}$' });
const RegisterBody = Type.Object({
  name: Name,
  tags: Type.Array(Name, { maxItems: 64 }),
  slots: Type.Integer({ minimum: 1, maximum: 1024 }),
  version: Type.String({ maxLength: 64 }),
  executor: Type.String({ maxLength: 64 }),
  containment: Type.String({ maxLength: 64 }),
  untagged: Type.Optional(Type.Boolean()),
});
type RegisterBody = Static<typeof RegisterBody>;
const PollBody = Type.Object({
  name: Name,
  free_slots: Type.Integer({ minimum: 0 }),
  tasks: Type.Array(Type.String({ maxLength: 128 }), { maxItems: 1024 }),
  wait_ms: Type.Optional(Type.Integer({ minimum: 0, maximum: 30_000 })),
  draining: Type.Optional(Type.Boolean()),
  /** The same for every retry of one poll: a retry gets the answer the first one got. */
  poll_id: Type.Optional(Type.String({ maxLength: 64 })),
});
type PollBody = Static<typeof PollBody>;
const EpochBody = Type.Object({ epoch: Type.Integer() });
type EpochBody = Static<typeof EpochBody>;
interface ReportBody {
  epoch: number;
  cubes: TaskReport['cubes'];
  final?: boolean;
  logs?: Record<string, { bytes: number; sha256: string }>;
}

/** Artifacts a worker uploads: one file per request, up to this size. */
const ARTIFACT_LIMIT = 512 * 1024 * 1024;
const LOG_CHUNK_LIMIT = 4 * 1024 * 1024;

/**
 * The worker protocol (docs/workers.md): register and poll with the worker token; everything about
 * one task (heartbeat, reports, logs, artifacts, its repository over git) with that task's token,
 * which holds exactly one lease. A stale token or epoch is `LeaseLost` (409): the worker stops.
 */
export function workerProtocolRoutes(ctx: ServerContext): FastifyPluginAsync {
  const hub = ctx.workers;
  const { clock } = ctx.services;
  const registered = new Map<string, { tags: string[]; tokenId: string; untagged: boolean }>();
  const lease = (request: FastifyRequest, taskId: string, epoch?: number, finished = false) =>
    taskLease(hub, request, taskId, epoch, finished);

  return plugin((app) => {
    app.addContentTypeParser(
      'application/octet-stream',
      { parseAs: 'buffer', bodyLimit: ARTIFACT_LIMIT },
      (_request, body, done) => done(null, body),
    );
    app.addContentTypeParser('application/x-git-upload-pack-request', (_request, payload, done) =>
      done(null, payload),
    );
    const schema = { hide: true };

    app.post<{ Body: RegisterBody }>(
      '/worker/v1/register',
      { schema: { ...schema, body: RegisterBody } },
      async (request) => {
        const token = await hub.authenticate(request.headers.authorization);
        const body = request.body;
        const now = clock.now();
        await hub.store.upsertWorker({
          name: body.name,
          tokenId: token.id,
          tags: [...new Set(body.tags)].sort(),
          untagged: body.untagged === true,
          slots: body.slots,
          running: 0,
          version: body.version,
          executor: body.executor,
          containment: body.containment,
          state: 'online',
          registeredAt: now,
          lastSeenAt: now,
        });
        registered.set(body.name, { tags: body.tags, tokenId: token.id, untagged: body.untagged === true });
        ctx.log(
          `worker ${body.name} joined: tags [${body.tags.join(', ')}]${body.untagged ? ' and untagged tasks' : ''}, ${body.slots} slot(s), ${body.executor}, ${body.containment}`,
        );
        return {
          name: body.name,
          lease_ms: hub.dispatch.o.leaseMs,
          poll_ms: 25_000,
          gone_ms: hub.polls.goneMs,
        };
      },
    );

    app.post<{ Body: PollBody }>(
      '/worker/v1/poll',
      { schema: { ...schema, body: PollBody } },
      async (request, reply) => {
        const token = await hub.authenticate(request.headers.authorization);
        const body = request.body;
        const worker = registered.get(body.name);
        if (!worker || worker.tokenId !== token.id)
          throw new AppError('Conflict', `worker ${body.name} is not registered here; register again`);
        // Closed before the answer was written: the worker died, or a link or proxy broke.
        const closed = new AbortController();
        reply.raw.on('close', () => reply.raw.writableFinished || closed.abort());
        const poll = hub.polls.begin(body.name, body.poll_id);
        const over = AbortSignal.any([closed.signal, poll.signal]);
        try {
          const replay = poll.replay?.task;
          const row = replay && (await hub.store.findTask(replay.task_id));
          if (row && row.state === 'leased' && row.epoch === replay.epoch && row.workerName === body.name)
            return poll.replay;
          const deadline = clock.now() + (body.wait_ms ?? 25_000);
          const state = body.draining ? 'draining' : 'online';
          // A poll whose connection closed claims nothing: its answer could not arrive.
          while (!over.aborted) {
            await hub.store.touchWorker(body.name, clock.now(), body.tasks.length, state);
            const cancel = await hub.dispatch.cancelsFor(body.tasks);
            if (cancel.length > 0) return { task: null, cancel };
            if (body.free_slots > 0 && !body.draining && !over.aborted) {
              const task = await hub.dispatch.claim(
                { name: body.name, tags: worker.tags, untagged: worker.untagged },
                token.id === hub.embeddedTokenId,
              );
              if (task) return poll.answered({ task, cancel: [] });
            }
            const left = deadline - clock.now();
            if (left <= 0 || hub.closing) return { task: null, cancel: [] };
            // Woken by a task for this worker or a cancel, here or on another replica (LISTEN/NOTIFY);
            // the backstop (2 s) covers a wake-up lost while the database link was down.
            await hub.dispatch.waitForWake(Math.min(left, hub.dispatch.o.pollBackstopMs), over, {
              tags: worker.tags,
              untagged: worker.untagged,
              tasks: body.tasks,
            });
          }
          return { task: null, cancel: [] };
        } finally {
          poll.end(closed.signal.aborted);
        }
      },
    );

    app.post<{ Params: { task_id: string }; Body: EpochBody }>(
      '/worker/v1/tasks/:task_id/heartbeat',
      { schema: { ...schema, body: EpochBody } },
      async (request) => {
        const row = await lease(request, request.params.task_id, request.body.epoch);
        if (!(await hub.dispatch.renew(row, request.body.epoch)))
          throw new AppError('LeaseLost', `the lease on task ${row.taskId} ended; stop the task`);
        return row.cancelReason !== undefined
          ? { state: 'canceling', reason: row.cancelReason }
          : { state: 'running' };
      },
    );

    app.post<{ Params: { task_id: string }; Body: ReportBody }>(
      '/worker/v1/tasks/:task_id/report',
      { schema: { ...schema, body: Type.Object({ epoch: Type.Integer(), cubes: Type.Array(Type.Any()) }) } },
      async (request, reply) => {
        const body = request.body;
        const row = await lease(request, request.params.task_id, body.epoch, body.final === true);
        // The answer to the final report was lost and the worker sends it again: it is done.
        if (row.state === 'done') return reply.send({ ok: true });
        if (body.final && body.logs) {
          const sizes: Record<string, string> = {};
          for (const [cubeId, claimed] of Object.entries(body.logs)) {
            const base = row.logBases?.[cubeId] ?? 0;
            const stored = await hub.appender.digest(row.runId, cubeId, base);
            if (stored.bytes !== claimed.bytes || stored.sha256 !== claimed.sha256)
              sizes[cubeId] = String(stored.bytes);
          }
          if (Object.keys(sizes).length > 0)
            throw new AppError('LogIncomplete', 'the stored logs differ; resend from these sizes', sizes);
        }
        if (!(await hub.dispatch.report(row, body.epoch, { cubes: body.cubes }, body.final === true)))
          throw new AppError('LeaseLost', `the lease on task ${row.taskId} ended; stop the task`);
        return reply.send({ ok: true });
      },
    );

    app.patch<{ Params: { task_id: string; cube_id: string }; Body: Buffer }>(
      '/worker/v1/tasks/:task_id/logs/:cube_id',
      { schema: { ...schema }, bodyLimit: LOG_CHUNK_LIMIT },
      async (request, reply) => {
        const row = await lease(request, request.params.task_id, epochOf(request));
        const range = /^bytes (\d+)-(\d+)\/\*$/.exec(request.headers['content-range'] ?? '');
        const chunk = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
        if (!range || Number(range[2]) - Number(range[1]) !== chunk.length)
          throw invalid('send Content-Range: bytes START-END/* with END - START = the body length');
        const cubeId = request.params.cube_id;
        const run = JSON.parse(row.payload) as RunRecord;
        if (!run.workflows[0]?.tasks[0]?.cubes.some((c) => c.id === cubeId))
          throw invalid(`cube ${cubeId} is not a cube of task ${row.taskId}`);
        const base = row.logBases?.[cubeId] ?? 0;
        const held = async () => {
          const now = await hub.store.findTask(row.taskId);
          return now?.state === 'leased' && now.epoch === row.epoch;
        };
        const got = await hub.appender.append(
          row.runId,
          cubeId,
          base,
          Number(range[1]),
          chunk,
          clock.now(),
          held,
        );
        if ('lost' in got)
          throw new AppError('LeaseLost', `the lease on task ${row.taskId} ended; stop the task`);
        if ('storage' in got) throw new AppError('StorageFailed', got.storage);
        if (!got.ok)
          throw new AppError('RangeMismatch', `the log holds ${got.size} bytes; resume from there`, {
            size: String(got.size),
          });
        const path = cubePath(run, cubeId);
        if (path && chunk.length > 0)
          ctx.events.publish(row.runId, {
            type: 'output',
            path,
            text: chunk.toString('utf8'),
            at: clock.now(),
          });
        return reply.code(202).send({ size: got.size });
      },
    );

    app.put<{ Params: { task_id: string; cube_id: string }; Body: Buffer }>(
      '/worker/v1/tasks/:task_id/artifacts/:cube_id',
      { schema: { ...schema } },
      async (request, reply) => {
        const row = await lease(request, request.params.task_id, epochOf(request));
        const relative = artifactPath(request);
        const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
        const sha256 = createHash('sha256').update(body).digest('hex');
        if (sha256 !== request.headers['x-content-sha256'])
          throw invalid(`the body's sha256 is ${sha256}, not the X-Content-Sha256 sent; upload it again`);
        const key = artifactKey(row, request.params.cube_id);
        const stored = await ctx
          .artifacts(row.repoId)
          .put(key, relative, () => Readable.from([body]), sha256);
        return reply.code(201).send(stored);
      },
    );

    app.delete<{ Params: { task_id: string; cube_id: string } }>(
      '/worker/v1/tasks/:task_id/artifacts/:cube_id',
      { schema: { ...schema } },
      async (request, reply) => {
        const row = await lease(request, request.params.task_id, epochOf(request));
        const relative = artifactPath(request);
        const key = artifactKey(row, request.params.cube_id);
        await ctx.artifacts(row.repoId).remove(key, relative);
        return reply.code(204).send();
      },
    );

    app.get<{ Params: { task_id: string } }>(
      '/worker/v1/git/:task_id/info/refs',
      { schema },
      async (request, reply) => {
        const row = await lease(request, request.params.task_id);
        if ((request.query as Record<string, string>).service !== 'git-upload-pack')
          throw new AppError('PermissionDenied', 'workers may only fetch (service=git-upload-pack)');
        const out = advertiseRefs(hub.mirrorPath(row.repoId), header(request, 'git-protocol'));
        return reply.header('cache-control', 'no-cache').type(out.contentType).send(out.body);
      },
    );

    app.post<{ Params: { task_id: string } }>(
      '/worker/v1/git/:task_id/git-upload-pack',
      { schema, bodyLimit: 64 * 1024 * 1024 },
      async (request, reply) => {
        const row = await lease(request, request.params.task_id);
        const out = uploadPack(
          hub.mirrorPath(row.repoId),
          header(request, 'git-protocol'),
          request.body as NodeJS.ReadableStream as import('node:stream').Readable,
          header(request, 'content-encoding'),
        );
        return reply.header('cache-control', 'no-cache').type(out.contentType).send(out.body);
      },
    );
  });
}

/** The artifact file of an upload or removal: `?path=`, relative and inside the cube's area. */
function artifactPath(request: FastifyRequest): string {
  const relative = normalize(String((request.query as Record<string, string>).path ?? ''));
  if (!relative || relative.startsWith('..') || relative.startsWith('/'))
    throw invalid('give the artifact file as ?path=RELATIVE/PATH inside the cube area');
  return relative;
}

function artifactKey(row: WorkerTaskRow, cubeId: string) {
  const run = JSON.parse(row.payload) as RunRecord;
  const workflow = run.workflows[0];
  const task = workflow?.tasks[0];
  const cube = task?.cubes.find((c) => c.id === cubeId);
  if (!workflow || !task || !cube) throw invalid(`cube ${cubeId} is not in this task`);
  return { runSlug: run.slug, workflow: workflow.slug, task: task.slug, cube: cube.slug };
}

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return typeof value === 'string' ? value : undefined;
}

function cubePath(run: RunRecord, cubeId: string): string[] | undefined {
  const workflow = run.workflows[0];
  const task = workflow?.tasks[0];
  const cube = task?.cubes.find((c) => c.id === cubeId);
  return workflow && task && cube ? [workflow.slug, task.slug, cube.slug] : undefined;
}
