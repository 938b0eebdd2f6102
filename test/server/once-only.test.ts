import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { TRIGGER_LOCK_KEY } from '../../src/store/pg-advisory-lock.js';
import { CONTAINER_ENV, CONVEYOR, waitFor } from '../helpers/cli.js';
import { tempPostgresUrl } from '../helpers/postgres.js';
import { tempDir, tempRepo } from '../helpers/repo.js';

const TOKEN = 'once-only-admin-token-0123456789';

interface Replica {
  name: string;
  child: ChildProcess;
  url: string;
  output: () => string;
}

/** `conveyor server` as a real process on the shared database, with a fast trigger tick. */
async function serve(name: string, databaseUrl: string): Promise<Replica> {
  const child = spawn(
    CONVEYOR,
    ['server', '--port', '0', '--data-dir', tempDir(`conveyor-once-${name}-`), '--database-url', databaseUrl],
    {
      env: {
        ...process.env,
        ...CONTAINER_ENV,
        CONVEYOR_ADMIN_TOKEN: TOKEN,
        CONVEYOR_REPLICA_ID: `once-${name}`,
        CONVEYOR_TRIGGER_TICK_MS: '200',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const url = await waitFor(() => /listening on (http:\/\/\S+)/.exec(out)?.[1], `replica ${name}`, 30_000);
  return { name, child, url, output: () => out };
}

async function api<T>(replica: Replica, method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${replica.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return JSON.parse(text) as T;
}

interface RunJson {
  slug: string;
  status: string;
  trigger?: string;
  commit?: { sha: string };
}

/**
 * Two `conveyor server` processes on one PostgreSQL database: schedules and polling run on the
 * holder of an advisory lock only; kill -9 of the holder hands them to the other replica, and
 * every push still makes one run and every schedule slot fires once.
 */
describe('schedules and polling on one replica at a time', () => {
  let url = '';
  let db: pg.Client;
  const replicas: Replica[] = [];
  let repo = '';

  before(async () => {
    url = await tempPostgresUrl();
    replicas.push(await serve('a', url), await serve('b', url));
    db = new pg.Client({ connectionString: url });
    await db.connect();
    repo = tempRepo({
      '.conveyor/ci.yaml':
        'on:\n  push:\n    - workflows: [build]\n  schedule:\n    - workflows: [tick]\n      cron: "* * * * *"\nworkflows:\n  build:\n    tasks: [{name: t, cubes: [{name: c, script: ["true"]}]}]\n  tick:\n    tasks: [{name: t, cubes: [{name: c, script: ["true"]}]}]\n',
    });
  });
  after(async () => {
    for (const r of replicas) r.child.kill('SIGKILL');
    await db?.end();
  });

  /** The application_name of the connection holding the trigger lock; asserts there is at most one. */
  const holder = async (): Promise<string | undefined> => {
    const { rows } = await db.query<{ application_name: string }>(
      `select a.application_name from pg_locks l join pg_stat_activity a on a.pid = l.pid
       where l.locktype = 'advisory' and l.granted and l.classid = $1 and l.objid = $2
         and l.database = (select oid from pg_database where datname = current_database())`,
      TRIGGER_LOCK_KEY,
    );
    assert.ok(rows.length <= 1, `one holder at most: ${JSON.stringify(rows)}`);
    return rows[0]?.application_name;
  };
  const runs = async (via: Replica) =>
    (await api<{ runs: RunJson[] }>(via, 'GET', '/repos/o/r/cicd/runs?page_size=1000')).runs;
  const push = (n: number): string => {
    writeFileSync(join(repo, `file-${n}.txt`), `${n}\n`);
    execFileSync('git', ['add', '-A'], { cwd: repo });
    execFileSync('git', ['-c', 'user.name=T', '-c', 'user.email=t@t', 'commit', '-qm', `push ${n}`], {
      cwd: repo,
    });
    return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: repo, encoding: 'utf8' }).trim();
  };
  /** Waits until the run of a pushed commit has ended successfully, as seen through `via`. */
  const ranOnce = (via: Replica, sha: string) =>
    waitFor(
      async () => (await runs(via)).find((r) => r.commit?.sha === sha && r.status === 'success'),
      `the run of ${sha.slice(0, 7)}`,
      60_000,
    );

  it('hands over to the other replica within a few seconds of a kill -9, and each push and slot runs once', async (t) => {
    const [a, b] = replicas as [Replica, Replica];
    await api(a, 'POST', '/orgs', { slug: 'o', name: 'O' });
    await api(a, 'POST', '/orgs/o/repos', {
      slug: 'r',
      name: 'R',
      clone_url: repo,
      poll_interval_seconds: 1,
    });
    const first = await waitFor(holder, 'a replica to take the trigger lock');
    const killed = first.endsWith('once-a') ? a : b;
    const survivor = killed === a ? b : a;
    assert.match(killed.output(), /this replica runs schedules and repository polling now/);
    assert.doesNotMatch(survivor.output(), /this replica runs schedules/);

    // The holder's first poll records the refs; every push after it makes one run.
    await waitFor(
      async () => (await db.query('select 1 from poll_state')).rowCount === 1,
      'the first poll',
      60_000,
    );
    // One push at a time: two pushes within one poll interval are one moved ref, one run.
    const shas: string[] = [];
    for (const n of [1, 2]) {
      shas.push(push(n));
      await ranOnce(survivor, shas[shas.length - 1] as string);
    }
    const killedAt = Date.now();
    killed.child.kill('SIGKILL');
    const next = await waitFor(
      async () => {
        const name = await holder();
        return name?.endsWith(`once-${survivor.name}`) ? name : undefined;
      },
      'the other replica to take over',
      20_000,
    );
    assert.ok(next);
    const handoverMs = Date.now() - killedAt;
    t.diagnostic(`the other replica held the lock ${handoverMs} ms after the kill`);
    await waitFor(
      () => /this replica runs schedules and repository polling now/.test(survivor.output()),
      'its log',
    );

    shas.push(push(3));
    await ranOnce(survivor, shas[2] as string);
    // A schedule slot that began after the kill fires on the survivor (cron every minute).
    await waitFor(
      async () =>
        (await db.query('select 1 from schedule_slots where slot > $1', [killedAt])).rowCount === 1 &&
        (await runs(survivor)).some((r) => r.trigger === 'schedule' && r.status === 'success'),
      'a schedule slot after the kill to fire',
      120_000,
    );
    const all = await runs(survivor);
    const pollRuns = all.filter((r) => r.trigger === 'poll');
    assert.deepEqual(
      pollRuns.map((r) => r.commit?.sha).sort(),
      [...shas].sort(),
      'one run per pushed commit, never two',
    );
    const slots = await db.query<{ slot: string }>('select slot from schedule_slots');
    assert.equal(
      all.filter((r) => r.trigger === 'schedule').length,
      slots.rowCount,
      'one run per schedule slot',
    );
  });
});
