import type { Kysely, Transaction } from 'kysely';
import { ConflictError } from '../ports/errors.js';
import type {
  AuditEntry,
  DeployJob,
  DeployRun,
  DeploymentStore,
  Environment,
  Release,
} from '../ports/deployment-store.js';
import type { Database, DeployJobsTable, DeployRunsTable } from './schema.js';
import { isUniqueViolation } from './sql-errors.js';

const parse = <T>(json: string): T => JSON.parse(json) as T;

/** `DeploymentStore` over Kysely (SQLite and PostgreSQL). */
export class SqlDeploymentStore implements DeploymentStore {
  constructor(private readonly db: Kysely<Database>) {}

  async insertEnvironment(env: Environment): Promise<void> {
    await unique(`an environment with key '${env.key}' already exists in this project`, () =>
      this.db
        .insertInto('environments')
        .values({
          id: env.id,
          project_id: env.projectId,
          key: env.key,
          version: env.version,
          body_json: JSON.stringify(env),
        })
        .execute(),
    );
  }

  async saveEnvironment(env: Environment): Promise<void> {
    const next = { ...env, version: env.version + 1 };
    await unique(`an environment with key '${env.key}' already exists in this project`, async () => {
      const res = await this.db
        .updateTable('environments')
        .set({ key: env.key, version: next.version, body_json: JSON.stringify(next) })
        .where('id', '=', env.id)
        .where('version', '=', env.version)
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) !== 1)
        throw new ConflictError(`environment ${env.key} was changed by someone else; reload it`);
    });
    env.version = next.version;
  }

  async findEnvironment(projectId: string, id: string): Promise<Environment | undefined> {
    const row = await this.db
      .selectFrom('environments')
      .select('body_json')
      .where('project_id', '=', projectId)
      .where('id', '=', id)
      .executeTakeFirst();
    return row && parse<Environment>(row.body_json);
  }

  async listEnvironments(projectId: string): Promise<Environment[]> {
    const rows = await this.db
      .selectFrom('environments')
      .select('body_json')
      .where('project_id', '=', projectId)
      .execute();
    return rows
      .map((r) => parse<Environment>(r.body_json))
      .sort((a, b) => a.workflowOrder - b.workflowOrder || a.createdAt - b.createdAt);
  }

  async insertRelease(release: Release): Promise<void> {
    await this.db
      .insertInto('releases')
      .values({
        id: release.id,
        project_id: release.projectId,
        status: release.status,
        version_number: release.version ?? null,
        created_at: release.createdAt,
        row_version: release.rowVersion,
        body_json: JSON.stringify(release),
      })
      .execute();
  }

  async saveRelease(release: Release): Promise<void> {
    const next = { ...release, rowVersion: release.rowVersion + 1 };
    await unique(`version ${release.version ?? ''} is taken in this project; publish again`, async () => {
      const res = await this.db
        .updateTable('releases')
        .set({
          status: release.status,
          version_number: release.version ?? null,
          row_version: next.rowVersion,
          body_json: JSON.stringify(next),
        })
        .where('id', '=', release.id)
        .where('row_version', '=', release.rowVersion)
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) !== 1)
        throw new ConflictError(`release ${release.id} was changed by someone else`);
    });
    release.rowVersion = next.rowVersion;
  }

  async findRelease(projectId: string, id: string): Promise<Release | undefined> {
    const row = await this.db
      .selectFrom('releases')
      .select('body_json')
      .where('project_id', '=', projectId)
      .where('id', '=', id)
      .executeTakeFirst();
    return row && parse<Release>(row.body_json);
  }

  async listReleases(
    projectId: string,
    page: number,
    pageSize: number,
  ): Promise<{ results: Release[]; total: number }> {
    const [rows, count] = await Promise.all([
      this.db
        .selectFrom('releases')
        .select('body_json')
        .where('project_id', '=', projectId)
        .orderBy('created_at', 'desc')
        .orderBy('id')
        .limit(pageSize)
        .offset((page - 1) * pageSize)
        .execute(),
      this.db
        .selectFrom('releases')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('project_id', '=', projectId)
        .executeTakeFirstOrThrow(),
    ]);
    return { results: rows.map((r) => parse<Release>(r.body_json)), total: Number(count.n) };
  }

  async lastPublished(projectId: string): Promise<Release | undefined> {
    const row = await this.db
      .selectFrom('releases')
      .select('body_json')
      .where('project_id', '=', projectId)
      .where('version_number', 'is not', null)
      .orderBy('version_number', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row && parse<Release>(row.body_json);
  }

  async insertRun(run: DeployRun): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx.insertInto('deploy_runs').values(runRow(run)).execute();
      for (const job of run.jobs) await trx.insertInto('deploy_jobs').values(jobRow(job)).execute();
    });
  }

  async saveRun(run: DeployRun, jobs: DeployJob[]): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      const res = await trx
        .updateTable('deploy_runs')
        .set({ ...runRow({ ...run, version: run.version + 1 }), id: run.id })
        .where('id', '=', run.id)
        .where('version', '=', run.version)
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) !== 1)
        throw new ConflictError(`deployment run ${run.id} was changed by someone else; reload it`);
      for (const job of jobs) await saveJob(trx, job);
    });
    run.version++;
    for (const job of jobs) job.version++;
  }

  async findRun(projectId: string, id: string): Promise<DeployRun | undefined> {
    const row = await this.db
      .selectFrom('deploy_runs')
      .selectAll()
      .where('project_id', '=', projectId)
      .where('id', '=', id)
      .executeTakeFirst();
    return row && (await this.withJobs([row]))[0];
  }

  async listRuns(
    projectId: string,
    filter: { page: number; pageSize: number; status?: string; releaseId?: string },
  ): Promise<{ results: DeployRun[]; total: number }> {
    let query = this.db.selectFrom('deploy_runs').where('project_id', '=', projectId);
    if (filter.status) query = query.where('status', '=', filter.status);
    if (filter.releaseId) query = query.where('release_id', '=', filter.releaseId);
    const [rows, count] = await Promise.all([
      query
        .selectAll()
        .orderBy('created_at', 'desc')
        .orderBy('id')
        .limit(filter.pageSize)
        .offset((filter.page - 1) * filter.pageSize)
        .execute(),
      query.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow(),
    ]);
    return { results: await this.withJobs(rows), total: Number(count.n) };
  }

  async listActiveRuns(): Promise<DeployRun[]> {
    const rows = await this.db
      .selectFrom('deploy_runs')
      .selectAll()
      .where('status', 'in', ['in_progress', 'waiting'])
      .orderBy('created_at')
      .execute();
    return this.withJobs(rows);
  }

  async findRunByCiRun(ciRunId: string): Promise<DeployRun | undefined> {
    const job = await this.db
      .selectFrom('deploy_jobs')
      .select('run_id')
      .where('ci_run_id', '=', ciRunId)
      .executeTakeFirst();
    if (!job) return undefined;
    const row = await this.db
      .selectFrom('deploy_runs')
      .selectAll()
      .where('id', '=', job.run_id)
      .executeTakeFirst();
    return row && (await this.withJobs([row]))[0];
  }

  private async withJobs(rows: DeployRunsTable[]): Promise<DeployRun[]> {
    if (rows.length === 0) return [];
    const jobs = await this.db
      .selectFrom('deploy_jobs')
      .selectAll()
      .where(
        'run_id',
        'in',
        rows.map((r) => r.id),
      )
      .orderBy('position')
      .execute();
    return rows.map((row) => ({
      ...parse<Omit<DeployRun, 'jobs' | 'version'>>(row.body_json),
      version: Number(row.version),
      jobs: jobs
        .filter((j) => j.run_id === row.id)
        .map((j) => ({ ...parse<DeployJob>(j.body_json), version: Number(j.version) })),
    }));
  }

  async insertAudit(entry: AuditEntry): Promise<void> {
    await this.db
      .insertInto('audit_log')
      .values({ id: entry.id, project_id: entry.projectId, at: entry.at, body_json: JSON.stringify(entry) })
      .execute();
  }

  async listAudit(
    projectId: string,
    page: number,
    pageSize: number,
  ): Promise<{ results: AuditEntry[]; total: number }> {
    const [rows, count] = await Promise.all([
      this.db
        .selectFrom('audit_log')
        .select('body_json')
        .where('project_id', '=', projectId)
        .orderBy('at', 'desc')
        .orderBy('id')
        .limit(pageSize)
        .offset((page - 1) * pageSize)
        .execute(),
      this.db
        .selectFrom('audit_log')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('project_id', '=', projectId)
        .executeTakeFirstOrThrow(),
    ]);
    return { results: rows.map((r) => parse<AuditEntry>(r.body_json)), total: Number(count.n) };
  }
}

function runRow(run: DeployRun): DeployRunsTable {
  const { jobs: _jobs, version: _version, ...body } = run;
  return {
    id: run.id,
    project_id: run.projectId,
    status: run.status,
    release_id: run.releaseId,
    created_at: run.createdAt,
    version: run.version,
    body_json: JSON.stringify(body),
  };
}

function jobRow(job: DeployJob): DeployJobsTable {
  const { version: _version, ...body } = job;
  return {
    id: job.id,
    run_id: job.runId,
    environment_id: job.environmentId,
    position: job.order,
    status: job.status,
    ci_run_id: job.ciRunId ?? null,
    version: job.version,
    body_json: JSON.stringify(body),
  };
}

async function saveJob(trx: Transaction<Database>, job: DeployJob): Promise<void> {
  const row = jobRow({ ...job, version: job.version + 1 });
  const res = await trx
    .updateTable('deploy_jobs')
    .set({ status: row.status, ci_run_id: row.ci_run_id, version: row.version, body_json: row.body_json })
    .where('id', '=', job.id)
    .where('version', '=', job.version)
    .executeTakeFirst();
  if (Number(res.numUpdatedRows) !== 1)
    throw new ConflictError(`job ${job.id} was changed by someone else; reload the run`);
}

async function unique(message: string, write: () => Promise<unknown>): Promise<void> {
  try {
    await write();
  } catch (error) {
    if (isUniqueViolation(error)) throw new ConflictError(message, { cause: error });
    throw error;
  }
}
