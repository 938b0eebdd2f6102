import { sql, type Kysely, type Transaction } from 'kysely';
import type { RunRecord } from '../core/run/model.js';
import { ConflictError, NotFoundError } from '../ports/errors.js';
import type { RunChanges, RunPage, RunStore } from '../ports/run-store.js';
import { assembleRun, cubeToRow, datesToRow, runToRow, taskToRow, workflowToRow } from './run-mapper.js';
import type { Database, RunsTable } from './schema.js';

/**
 * `RunStore` over Kysely: the same queries serve SQLite and PostgreSQL; only the dialect differs.
 */
export class SqlRunStore implements RunStore {
  constructor(private readonly db: Kysely<Database>) {}

  async insertRun(run: RunRecord): Promise<RunRecord> {
    return this.db.transaction().execute(async (trx) => {
      const counter = await trx
        .insertInto('repo_run_counters')
        .values({ repo_id: run.repoId, last_slug: 1 })
        .onConflict((oc) =>
          oc.column('repo_id').doUpdateSet({ last_slug: sql`repo_run_counters.last_slug + 1` }),
        )
        .returning('last_slug')
        .executeTakeFirstOrThrow();
      const slug = Number(counter.last_slug);
      await trx.insertInto('runs').values(runToRow(run, slug)).execute();
      await this.insertTree(trx, run);
      run.slug = String(slug);
      return run;
    });
  }

  private async insertTree(trx: Transaction<Database>, run: RunRecord): Promise<void> {
    const workflows = run.workflows.map((w, i) => workflowToRow(run.id, w, i));
    const tasks = run.workflows.flatMap((w) => w.tasks.map((t, i) => taskToRow(run.id, w.id, t, i)));
    const cubes = run.workflows.flatMap((w) =>
      w.tasks.flatMap((t) => t.cubes.map((c, i) => cubeToRow(run.id, t.id, c, i))),
    );
    // Chunked so large trees stay under the drivers' bound-parameter limits.
    for (const chunk of chunks(workflows, 200)) await trx.insertInto('run_workflows').values(chunk).execute();
    for (const chunk of chunks(tasks, 200)) await trx.insertInto('run_tasks').values(chunk).execute();
    for (const chunk of chunks(cubes, 100)) await trx.insertInto('run_cubes').values(chunk).execute();
  }

  async applyChanges(changes: RunChanges): Promise<void> {
    const bumped: { version: number }[] = [];
    await this.db.transaction().execute(async (trx) => {
      const check = (rows: bigint | number, what: string, id: string) => {
        if (Number(rows) !== 1) throw new ConflictError(`${what} ${id} was changed by someone else`);
      };
      if (changes.run) {
        const r = changes.run;
        const res = await trx
          .updateTable('runs')
          .set({
            status: r.status,
            ...datesToRow(r.dates),
            error_messages: JSON.stringify(r.errorMessages),
            version: r.version + 1,
          })
          .where('id', '=', r.id)
          .where('version', '=', r.version)
          .executeTakeFirst();
        check(res.numUpdatedRows, 'run', r.id);
        bumped.push(r);
      }
      for (const w of changes.workflows ?? []) {
        const res = await trx
          .updateTable('run_workflows')
          .set({ status: w.status, ...datesToRow(w.dates), version: w.version + 1 })
          .where('id', '=', w.id)
          .where('version', '=', w.version)
          .executeTakeFirst();
        check(res.numUpdatedRows, 'workflow', w.id);
        bumped.push(w);
      }
      for (const t of changes.tasks ?? []) {
        const res = await trx
          .updateTable('run_tasks')
          .set({
            status: t.status,
            ...datesToRow(t.dates),
            outputs_json: JSON.stringify(t.outputs),
            version: t.version + 1,
          })
          .where('id', '=', t.id)
          .where('version', '=', t.version)
          .executeTakeFirst();
        check(res.numUpdatedRows, 'task', t.id);
        bumped.push(t);
      }
      for (const c of changes.cubes ?? []) {
        const res = await trx
          .updateTable('run_cubes')
          .set({
            status: c.status,
            ...datesToRow(c.dates),
            outputs_json: JSON.stringify(c.outputs),
            exit_code: c.exitCode ?? null,
            error_message: c.errorMessage ?? null,
            artifacts_json: JSON.stringify(c.artifacts),
            version: c.version + 1,
          })
          .where('id', '=', c.id)
          .where('version', '=', c.version)
          .executeTakeFirst();
        check(res.numUpdatedRows, 'cube', c.id);
        bumped.push(c);
      }
    });
    for (const node of bumped) node.version++;
  }

  async getRun(repoId: string, slug: string): Promise<RunRecord> {
    const run = await this.findRun(repoId, slug);
    if (!run) throw new NotFoundError(`run ${slug} not found`);
    return run;
  }

  async findRun(repoId: string, slug: string): Promise<RunRecord | undefined> {
    if (!/^\d{1,15}$/.test(slug)) return undefined;
    // One snapshot: a tree read while the engine writes is a state the store had, never a torn
    // mix of an older run row and newer cubes (live views rely on it; docs/scaling.md).
    return this.db
      .transaction()
      .setIsolationLevel('repeatable read')
      .execute(async (trx) => {
        const row = await trx
          .selectFrom('runs')
          .selectAll()
          .where('repo_id', '=', repoId)
          .where('slug', '=', Number(slug))
          .executeTakeFirst();
        if (!row) return undefined;
        const [run] = await this.loadTrees([row], trx);
        return run;
      });
  }

  async runVersion(runId: string): Promise<number | undefined> {
    const sum = (table: string) =>
      sql`coalesce((select sum(version) from ${sql.table(table)} where run_id = r.id), 0)`;
    const { rows } = await sql<{ v: number | string }>`
      select r.version + ${sum('run_workflows')} + ${sum('run_tasks')} + ${sum('run_cubes')} as v
      from runs r where r.id = ${runId}`.execute(this.db);
    return rows[0] === undefined ? undefined : Number(rows[0].v);
  }

  async listRuns(repoId: string, options: { pageSize: number; beforeSlug?: number }): Promise<RunPage> {
    let query = this.db.selectFrom('runs').selectAll().where('repo_id', '=', repoId);
    if (options.beforeSlug !== undefined) query = query.where('slug', '<', options.beforeSlug);
    const rows = await query
      .orderBy('slug', 'desc')
      .limit(options.pageSize + 1)
      .execute();
    const page = rows.slice(0, options.pageSize);
    const runs = await this.loadTrees(page);
    const last = page.at(-1);
    return rows.length > options.pageSize && last ? { runs, nextBeforeSlug: Number(last.slug) } : { runs };
  }

  async claimRuns(owner: string, now: number, leaseUntil: number, limit: number): Promise<RunRecord[]> {
    const candidates = await this.db
      .selectFrom('runs')
      .select('id')
      .where('status', '=', 'prepared')
      .where((eb) => eb.or([eb('claimed_by', 'is', null), eb('lease_until', '<', now)]))
      .orderBy('created_at')
      .limit(limit)
      .execute();
    return this.claim(
      candidates.map((c) => c.id),
      owner,
      now,
      leaseUntil,
      ['prepared'],
      false,
    );
  }

  async claimRun(
    owner: string,
    runId: string,
    now: number,
    leaseUntil: number,
  ): Promise<RunRecord | undefined> {
    return (await this.claim([runId], owner, now, leaseUntil, ['prepared'], false))[0];
  }

  async claimAbandoned(
    owner: string,
    now: number,
    leaseUntil: number,
    includeOwn: boolean,
  ): Promise<RunRecord[]> {
    const candidates = await this.db
      .selectFrom('runs')
      .select('id')
      .where('status', 'in', ['created', 'processing'])
      .where((eb) =>
        eb.or([
          eb('lease_until', 'is', null),
          eb('lease_until', '<', now),
          ...(includeOwn ? [eb('claimed_by', '=', owner)] : []),
        ]),
      )
      .execute();
    return this.claim(
      candidates.map((c) => c.id),
      owner,
      now,
      leaseUntil,
      ['created', 'processing'],
      includeOwn,
    );
  }

  /** Takes each run whose claim is free or expired (or already ours); one another owner took first is skipped. */
  private async claim(
    ids: string[],
    owner: string,
    now: number,
    leaseUntil: number,
    statuses: string[],
    includeOwn: boolean,
  ): Promise<RunRecord[]> {
    const won: string[] = [];
    for (const id of ids) {
      const res = await this.db
        .updateTable('runs')
        .set({ claimed_by: owner, lease_until: leaseUntil })
        .where('id', '=', id)
        .where('status', 'in', statuses)
        .where((eb) =>
          eb.or([
            eb('claimed_by', 'is', null),
            eb('lease_until', 'is', null),
            eb('lease_until', '<', now),
            ...(includeOwn ? [eb('claimed_by', '=', owner)] : []),
          ]),
        )
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) === 1) won.push(id);
    }
    if (won.length === 0) return [];
    const rows = await this.db
      .selectFrom('runs')
      .selectAll()
      .where('id', 'in', won)
      .orderBy('created_at')
      .execute();
    return this.loadTrees(rows);
  }

  async renewLeases(owner: string, runIds: string[], leaseUntil: number): Promise<void> {
    if (runIds.length === 0) return;
    await this.db
      .updateTable('runs')
      .set({ lease_until: leaseUntil })
      .where('claimed_by', '=', owner)
      .where('id', 'in', runIds)
      .execute();
  }

  async requestCancel(runId: string, reason: string): Promise<void> {
    await this.db
      .updateTable('runs')
      .set({ cancel_reason: reason })
      .where('id', '=', runId)
      .where('cancel_reason', 'is', null)
      .execute();
  }

  async cancelRequests(runIds: string[]): Promise<{ runId: string; reason: string }[]> {
    if (runIds.length === 0) return [];
    const rows = await this.db
      .selectFrom('runs')
      .select(['id', 'cancel_reason'])
      .where('id', 'in', runIds)
      .where('cancel_reason', 'is not', null)
      .execute();
    return rows.map((r) => ({ runId: r.id, reason: r.cancel_reason ?? '' }));
  }

  private async loadTrees(rows: RunsTable[], db: Kysely<Database> = this.db): Promise<RunRecord[]> {
    if (rows.length === 0) return [];
    const ids = rows.map((r) => r.id);
    const [workflows, tasks, cubes] = await Promise.all([
      db.selectFrom('run_workflows').selectAll().where('run_id', 'in', ids).orderBy('position').execute(),
      db.selectFrom('run_tasks').selectAll().where('run_id', 'in', ids).orderBy('position').execute(),
      db.selectFrom('run_cubes').selectAll().where('run_id', 'in', ids).orderBy('position').execute(),
    ]);
    return rows.map((row) =>
      assembleRun(
        row,
        workflows.filter((w) => w.run_id === row.id),
        tasks.filter((t) => t.run_id === row.id),
        cubes.filter((c) => c.run_id === row.id),
      ),
    );
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }
}

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
