import type { FastifyRequest } from 'fastify';
import { AppError, invalid } from '../../app/errors.js';
import { hashToken } from '../../app/secret-box.js';
import type { WorkerHub } from '../../app/worker-hub.js';
import type { WorkerTaskRow } from '../../ports/worker-store.js';

/**
 * The lease a task token holds (`Authorization: Bearer cvt_…`, or git's Basic with the token as
 * password), checked against the path's task and the epoch given; else `LeaseLost` (409).
 */
export async function taskLease(
  hub: WorkerHub,
  request: FastifyRequest,
  taskId: string,
  epoch?: number,
  /** Also answer the row of a lease that ended with its final report (a retried final report). */
  finished = false,
): Promise<WorkerTaskRow> {
  const match = /^Bearer\s+(\S+)$/i.exec((request.headers.authorization ?? '').trim());
  const basic = /^Basic\s+(\S+)$/i.exec((request.headers.authorization ?? '').trim());
  const token =
    match?.[1] ?? (basic?.[1] ? Buffer.from(basic[1], 'base64').toString().split(':')[1] : undefined);
  if (!token) throw new AppError('Unauthenticated', 'send "Authorization: Bearer <task token>"');
  const row = await hub.store.findTaskByToken(hashToken(token));
  const live = row?.state === 'leased' || (finished && row?.state === 'done' && row.report !== undefined);
  if (!row || row.taskId !== taskId || !live || (epoch !== undefined && row.epoch !== epoch))
    throw new AppError('LeaseLost', `this worker holds no lease on task ${taskId} any more; stop the task`);
  return row;
}

/** The lease epoch of a request that carries it as `?epoch=N`. */
export function epochOf(request: FastifyRequest): number {
  const value = Number((request.query as Record<string, string>).epoch);
  if (!Number.isInteger(value)) throw invalid('give the lease epoch as ?epoch=N');
  return value;
}
