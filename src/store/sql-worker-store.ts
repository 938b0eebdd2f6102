import { sql, type Kysely, type Selectable } from 'kysely';
import type {
  WorkerRecord,
  WorkerState,
  WorkerStore,
  WorkerTaskRow,
  WorkerTaskState,
  WorkerTokenRecord,
} from '../ports/worker-store.js';
import type { Database } from './schema.js';
import type { WorkerTasksTable } from './worker-schema.js';

/** How many queued tasks one claim looks at for a tag match (GitLab's MAX_QUEUE_DEPTH is 45). */
const CLAIM_DEPTH = 64;

const num = (v: unknown): number => Number(v);
const opt = (v: unknown): number | undefined => (v === null || v === undefined ? undefined : Number(v));

/**
 * `WorkerStore` over Kysely: compare-and-set updates, no locks held; claims on PostgreSQL are one
 * `FOR UPDATE SKIP LOCKED` statement with the tag match in SQL, on SQLite (one writer) a
 * compare-and-set over the oldest queued rows.
 */
export class SqlWorkerStore implements WorkerStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly postgres = false,
  ) {}

  async insertToken(token: WorkerTokenRecord, hash: string): Promise<void> {
    await this.db
      .insertInto('worker_tokens')
      .values({
        id: token.id,
        note: token.note,
        token_hash: hash,
        created_at: token.createdAt,
        created_by: token.createdBy,
        revoked_at: null,
        last_used_at: null,
      })
      .execute();
  }

  async findTokenByHash(hash: string): Promise<WorkerTokenRecord | undefined> {
    const row = await this.db
      .selectFrom('worker_tokens')
      .selectAll()
      .where('token_hash', '=', hash)
      .executeTakeFirst();
    return row && tokenFromRow(row);
  }

  async listTokens(): Promise<WorkerTokenRecord[]> {
    const rows = await this.db.selectFrom('worker_tokens').selectAll().orderBy('created_at').execute();
    return rows.map(tokenFromRow);
  }

  async revokeToken(id: string, at: number): Promise<boolean> {
    const res = await this.db
      .updateTable('worker_tokens')
      .set({ revoked_at: at })
      .where('id', '=', id)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return Number(res.numUpdatedRows) === 1;
  }

  async upsertWorker(w: WorkerRecord): Promise<void> {
    const values = {
      token_id: w.tokenId,
      tags_json: JSON.stringify(w.tags),
      untagged: w.untagged ? 1 : 0,
      slots: w.slots,
      running: w.running,
      version: w.version,
      executor: w.executor,
      containment: w.containment,
      state: w.state,
      registered_at: w.registeredAt,
      last_seen_at: w.lastSeenAt,
    };
    await this.db
      .insertInto('workers')
      .values({ name: w.name, ...values })
      .onConflict((oc) => oc.column('name').doUpdateSet(values))
      .execute();
  }

  async touchWorker(name: string, at: number, running: number, state?: WorkerState): Promise<void> {
    await this.db
      .updateTable('workers')
      .set({ last_seen_at: at, running, ...(state ? { state } : {}) })
      .where('name', '=', name)
      .execute();
  }

  async listWorkers(): Promise<WorkerRecord[]> {
    const rows = await this.db.selectFrom('workers').selectAll().orderBy('name').execute();
    return rows.map((r) => ({
      name: r.name,
      tokenId: r.token_id,
      tags: JSON.parse(r.tags_json) as string[],
      untagged: num(r.untagged) === 1,
      slots: num(r.slots),
      running: num(r.running),
      version: r.version,
      executor: r.executor,
      containment: r.containment,
      state: r.state as WorkerState,
      registeredAt: num(r.registered_at),
      lastSeenAt: num(r.last_seen_at),
    }));
  }

  async enqueueTask(row: WorkerTaskRow): Promise<void> {
    const values = {
      run_id: row.runId,
      repo_id: row.repoId,
      tags_json: JSON.stringify(row.tags),
      state: row.state,
      attempt: row.attempt,
      max_attempts: row.maxAttempts,
      epoch: row.epoch,
      worker_name: null,
      lease_until: null,
      token_hash: null,
      cancel_reason: null,
      message: row.message ?? null,
      queued_at: row.queuedAt,
      updated_at: row.updatedAt,
      payload_json: row.payload,
      report_json: null,
      log_bases_json: null,
      outcome_json: null,
    };
    // A restarted run reuses no task ids, but a server that re-enqueues after a crash may.
    await this.db
      .insertInto('worker_tasks')
      .values({ task_id: row.taskId, ...values })
      .onConflict((oc) => oc.column('task_id').doUpdateSet(values))
      .execute();
  }

  async claimTask(
    worker: { name: string; tags: readonly string[]; untagged: boolean; only?: readonly string[] },
    lease: { now: number; until: number; tokenHash: string },
  ): Promise<WorkerTaskRow | undefined> {
    if (this.postgres) return this.claimSkipLocked(worker, lease);
    const have = new Set(worker.tags);
    const candidates = await this.db
      .selectFrom('worker_tasks')
      .select(['task_id', 'tags_json', 'epoch'])
      .where('state', '=', 'queued')
      .$if(worker.only !== undefined, (q) => q.where('task_id', 'in', [...(worker.only ?? []), '']))
      .orderBy('queued_at')
      .limit(CLAIM_DEPTH)
      .execute();
    for (const c of candidates) {
      const tags = JSON.parse(c.tags_json) as string[];
      if (tags.length === 0 ? !worker.untagged : !tags.every((tag) => have.has(tag))) continue;
      const res = await this.db
        .updateTable('worker_tasks')
        .set({
          state: 'leased',
          epoch: num(c.epoch) + 1,
          worker_name: worker.name,
          lease_until: lease.until,
          token_hash: lease.tokenHash,
          updated_at: lease.now,
        })
        .where('task_id', '=', c.task_id)
        .where('state', '=', 'queued')
        .where('epoch', '=', num(c.epoch))
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) === 1) return this.findTask(c.task_id);
    }
    return undefined;
  }

  /**
   * One statement, with the rules of the SQLite claim: the oldest queued task whose tags (a JSON
   * array) are contained in the worker's, or that has no tags if the worker takes untagged tasks,
   * and with `only` one of those ids; locked with SKIP LOCKED so concurrent claims on other
   * replicas take the next row instead of waiting.
   */
  private async claimSkipLocked(
    worker: { name: string; tags: readonly string[]; untagged: boolean; only?: readonly string[] },
    lease: { now: number; until: number; tokenHash: string },
  ): Promise<WorkerTaskRow | undefined> {
    if (worker.only?.length === 0) return undefined;
    const tags = JSON.stringify([...worker.tags]);
    const only = worker.only ? sql`and task_id in (${sql.join([...worker.only])})` : sql``;
    const result = await sql<Selectable<WorkerTasksTable>>`
      update worker_tasks
         set state = 'leased', epoch = epoch + 1, worker_name = ${worker.name},
             lease_until = ${lease.until}, token_hash = ${lease.tokenHash}, updated_at = ${lease.now}
       where task_id = (
               select task_id from worker_tasks
                where state = 'queued' ${only}
                  and case when jsonb_array_length(tags_json::jsonb) = 0 then ${worker.untagged}::boolean
                           else tags_json::jsonb <@ ${tags}::jsonb end
                order by queued_at
                limit 1
                  for update skip locked)
         and state = 'queued'
      returning *`.execute(this.db);
    const row = result.rows[0];
    return row && taskFromRow(row);
  }

  async findTask(taskId: string): Promise<WorkerTaskRow | undefined> {
    const row = await this.db
      .selectFrom('worker_tasks')
      .selectAll()
      .where('task_id', '=', taskId)
      .executeTakeFirst();
    return row && taskFromRow(row);
  }

  async findTaskByToken(hash: string): Promise<WorkerTaskRow | undefined> {
    const row = await this.db
      .selectFrom('worker_tasks')
      .selectAll()
      .where('token_hash', '=', hash)
      .executeTakeFirst();
    return row && taskFromRow(row);
  }

  private async leased(
    taskId: string,
    epoch: number,
    set: Partial<Selectable<WorkerTasksTable>>,
  ): Promise<boolean> {
    const res = await this.db
      .updateTable('worker_tasks')
      .set(set)
      .where('task_id', '=', taskId)
      .where('state', '=', 'leased')
      .where('epoch', '=', epoch)
      .executeTakeFirst();
    return Number(res.numUpdatedRows) === 1;
  }

  renewLease(taskId: string, epoch: number, until: number, at: number): Promise<boolean> {
    return this.leased(taskId, epoch, { lease_until: until, updated_at: at });
  }

  saveLogBases(taskId: string, epoch: number, bases: Record<string, number>): Promise<boolean> {
    return this.leased(taskId, epoch, { log_bases_json: JSON.stringify(bases) });
  }

  saveReport(taskId: string, epoch: number, report: string, at: number): Promise<boolean> {
    return this.leased(taskId, epoch, { report_json: report, updated_at: at });
  }

  finishTask(taskId: string, epoch: number, report: string, at: number): Promise<boolean> {
    return this.leased(taskId, epoch, {
      state: 'done',
      report_json: report,
      lease_until: null,
      outcome_json: '{}',
      updated_at: at,
    });
  }

  async listExpired(now: number): Promise<WorkerTaskRow[]> {
    const rows = await this.db
      .selectFrom('worker_tasks')
      .selectAll()
      .where('state', '=', 'leased')
      .where('lease_until', '<', now)
      .execute();
    return rows.map(taskFromRow);
  }

  async requeue(taskId: string, epoch: number, message: string, at: number): Promise<boolean> {
    const row = await this.findTask(taskId);
    if (!row || row.state !== 'leased' || row.epoch !== epoch) return false;
    return this.leased(taskId, epoch, {
      state: 'queued',
      attempt: row.attempt + 1,
      worker_name: null,
      lease_until: null,
      token_hash: null,
      message,
      report_json: null,
      log_bases_json: null,
      updated_at: at,
      // A retried task goes to the front of the queue: it has waited once already.
      queued_at: row.queuedAt,
    });
  }

  async abandonTask(
    taskId: string,
    epoch: number,
    outcome: { message: string; canceled?: boolean },
    at: number,
  ): Promise<boolean> {
    const res = await this.db
      .updateTable('worker_tasks')
      .set({
        state: 'done',
        message: outcome.message,
        lease_until: null,
        token_hash: null,
        outcome_json: JSON.stringify(outcome),
        updated_at: at,
      })
      .where('task_id', '=', taskId)
      .where('state', '!=', 'done')
      .where('epoch', '=', epoch)
      .executeTakeFirst();
    return Number(res.numUpdatedRows) === 1;
  }

  async requestCancel(taskId: string, reason: string, at: number): Promise<void> {
    await this.db
      .updateTable('worker_tasks')
      .set({ cancel_reason: reason, updated_at: at })
      .where('task_id', '=', taskId)
      .where('state', '!=', 'done')
      .execute();
  }

  async listRunTasks(runId: string): Promise<WorkerTaskRow[]> {
    const rows = await this.db.selectFrom('worker_tasks').selectAll().where('run_id', '=', runId).execute();
    return rows.map(taskFromRow);
  }

  async listOpenTasks(): Promise<WorkerTaskRow[]> {
    const rows = await this.db
      .selectFrom('worker_tasks')
      .selectAll()
      .where('state', '!=', 'done')
      .orderBy('queued_at')
      .execute();
    return rows.map(taskFromRow);
  }
}

function tokenFromRow(r: Selectable<Database['worker_tokens']>): WorkerTokenRecord {
  return {
    id: r.id,
    note: r.note,
    createdAt: num(r.created_at),
    createdBy: r.created_by,
    ...(r.revoked_at !== null ? { revokedAt: num(r.revoked_at) } : {}),
    ...(r.last_used_at !== null ? { lastUsedAt: num(r.last_used_at) } : {}),
  };
}

function taskFromRow(r: Selectable<WorkerTasksTable>): WorkerTaskRow {
  const leaseUntil = opt(r.lease_until);
  return {
    taskId: r.task_id,
    runId: r.run_id,
    repoId: r.repo_id,
    tags: JSON.parse(r.tags_json) as string[],
    state: r.state as WorkerTaskState,
    attempt: num(r.attempt),
    maxAttempts: num(r.max_attempts),
    epoch: num(r.epoch),
    ...(r.worker_name !== null ? { workerName: r.worker_name } : {}),
    ...(leaseUntil !== undefined ? { leaseUntil } : {}),
    ...(r.token_hash !== null ? { tokenHash: r.token_hash } : {}),
    ...(r.cancel_reason !== null ? { cancelReason: r.cancel_reason } : {}),
    ...(r.message !== null ? { message: r.message } : {}),
    queuedAt: num(r.queued_at),
    updatedAt: num(r.updated_at),
    payload: r.payload_json,
    ...(r.report_json !== null ? { report: r.report_json } : {}),
    ...(r.log_bases_json !== null
      ? { logBases: JSON.parse(r.log_bases_json) as Record<string, number> }
      : {}),
    ...(r.outcome_json ? { outcome: JSON.parse(r.outcome_json) as WorkerTaskRow['outcome'] } : {}),
  };
}
