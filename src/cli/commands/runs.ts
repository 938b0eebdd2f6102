import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ArtifactJson, RunJson } from '../../transport/run-json.js';
import { ApiClient, loadConfig, repoPrefix } from '../client.js';
import { parseAssignments, printTable, UsageError } from '../output.js';
import { LiveTree, treeFromJson } from '../render/live-tree.js';
import { runLine, runTree } from '../render/run-json-text.js';

export interface RepoFlags {
  repo?: string;
  json?: boolean;
}

const TERMINAL = new Set(['success', 'failed', 'canceled', 'timeout']);
const client = () => new ApiClient(loadConfig());
const print = (text: string) => process.stdout.write(text);
const printJson = (value: unknown) => print(`${JSON.stringify(value, null, 2)}\n`);
const exitFor = (run: RunJson) => (run.status === 'success' ? 0 : 1);

const RUN_STATUSES = ['created', 'prepared', 'processing', 'success', 'failed', 'canceled', 'timeout'];

export interface ListFlags extends RepoFlags {
  pageSize?: string;
  pageToken?: string;
  quiet?: boolean;
  status?: string;
  branch?: string;
  workflow?: string;
}

/** "3m ago" from an ISO time. */
function age(iso: string | undefined, now = Date.now()): string {
  if (!iso) return '';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

export async function runsList(flags: ListFlags): Promise<number> {
  const query = new URLSearchParams();
  if (flags.pageSize !== undefined && !/^[1-9]\d*$/.test(flags.pageSize))
    throw new UsageError(`--limit '${flags.pageSize}' is not a positive whole number`);
  for (const status of flags.status?.split(',') ?? [])
    if (!RUN_STATUSES.includes(status))
      throw new UsageError(`--status '${status}' is not one of ${RUN_STATUSES.join(', ')}`);
  if (flags.pageSize) query.set('page_size', flags.pageSize);
  if (flags.pageToken) query.set('page_token', flags.pageToken);
  if (flags.status) query.set('status', flags.status);
  if (flags.branch) query.set('branch', flags.branch);
  if (flags.workflow) query.set('workflow', flags.workflow);
  const page = await client().request<{ runs: RunJson[]; next_page_token?: string }>(
    'GET',
    `${repoPrefix(flags.repo)}/cicd/runs?${query.toString()}`,
  );
  if (flags.json) printJson(page);
  else if (flags.quiet) for (const run of page.runs) print(`${run.slug}\n`);
  else {
    if (page.runs.length === 0) print(query.toString() ? 'no runs match\n' : 'no runs yet\n');
    else
      printTable(
        ['RUN', 'STATUS', 'EVENT', 'WORKFLOWS', 'BRANCH', 'COMMIT', 'STARTED', 'TOOK', 'TITLE'],
        page.runs.map((run) => [
          `#${run.slug}`,
          run.status,
          run.event_type,
          run.workflows.map((w) => w.slug).join(',') || '-',
          run.commit?.ref.replace(/^refs\/(heads|tags)\//, '') || '-',
          run.commit?.sha.slice(0, 8) ?? '',
          age(run.dates.started_at ?? run.dates.created_at),
          took(run.dates),
          (run.commit?.message ?? '').split('\n')[0] ?? '',
        ]),
      );
    if (page.next_page_token) print(`more: --page-token ${page.next_page_token}\n`);
  }
  return 0;
}

function took(d: { started_at?: string; finished_at?: string }): string {
  if (!d.started_at) return '';
  const ms = (d.finished_at ? Date.parse(d.finished_at) : Date.now()) - Date.parse(d.started_at);
  return `${(ms / 1000).toFixed(1)}s`;
}

export async function runsGet(run: string, flags: RepoFlags): Promise<number> {
  const got = await client().request<RunJson>('GET', `${repoPrefix(flags.repo)}/cicd/runs/${runNumber(run)}`);
  if (flags.json) printJson(got);
  else print(runTree(got));
  return 0;
}

export interface TriggerFlags extends RepoFlags {
  branch?: string;
  tag?: string;
  commit?: string;
  wait?: boolean;
  watch?: boolean;
  quiet?: boolean;
}

export async function runsTrigger(
  workflow: string,
  assignments: string[],
  flags: TriggerFlags,
): Promise<number> {
  const values = Object.entries(parseAssignments(assignments, 'input')).map(([name, value]) => ({
    name,
    value,
  }));
  const head = flags.commit
    ? { commit: flags.commit }
    : flags.tag
      ? { tag: flags.tag }
      : flags.branch
        ? { branch: flags.branch }
        : undefined;
  const api = client();
  const prefix = repoPrefix(flags.repo);
  let run = await api.request<RunJson>('POST', `${prefix}/cicd/runs`, {
    ...(head ? { head } : {}),
    workflows: [{ name: workflow, values }],
  });
  if (flags.quiet) print(`${run.slug}\n`);
  else if (!flags.json) print(`started run #${run.slug} (${run.status})\n`);
  if (flags.watch && !flags.json) return watchRun(api, prefix, run);
  if (!flags.wait && !flags.watch) {
    if (flags.json) printJson(run);
    return 0;
  }
  run = await waitForEnd(
    api,
    prefix,
    run,
    flags.json || flags.quiet ? undefined : (r) => print(`run #${r.slug}: ${r.status}\n`),
  );
  if (flags.json) printJson(run);
  else if (!flags.quiet) {
    print(runTree(run));
    await printFailedLogs(api, prefix, run, 20);
  }
  return exitFor(run);
}

/** `runs watch [RUN]`: the live tree of `conveyor run`, fed by the run's event stream; exits with its result. */
export async function runsWatch(run: string | undefined, flags: RepoFlags): Promise<number> {
  const api = client();
  const prefix = repoPrefix(flags.repo);
  const got = run
    ? await api.request<RunJson>('GET', `${prefix}/cicd/runs/${runNumber(run)}`)
    : await newestRun(api, prefix);
  if (flags.json) {
    const last = TERMINAL.has(got.status) ? got : await waitForEnd(api, prefix, got);
    printJson(last);
    return exitFor(last);
  }
  return watchRun(api, prefix, got);
}

/** The newest run; in a repository without runs yet, the first one once it starts (a push on its way). */
async function newestRun(api: ApiClient, prefix: string, waitMs = 60_000): Promise<RunJson> {
  const deadline = Date.now() + waitMs;
  for (let told = false; ; told = true) {
    const newest = (await api.request<{ runs: RunJson[] }>('GET', `${prefix}/cicd/runs?page_size=1`)).runs[0];
    if (newest) return newest;
    if (Date.now() > deadline)
      throw new UsageError(
        'no run started in this repository',
        'conveyor runs trigger WORKFLOW --watch starts one',
      );
    if (!told) process.stderr.write('no runs yet; waiting for the first one…\n');
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function watchRun(api: ApiClient, prefix: string, run: RunJson): Promise<number> {
  const tty = process.stdout.isTTY;
  const tree = tty ? new LiveTree(process.stdout) : undefined;
  tree?.start(treeFromJson(run));
  if (!tty) print(`${runLine(run)}\n`);
  let last = run;
  try {
    if (!TERMINAL.has(run.status))
      last = await waitForEnd(
        api,
        prefix,
        run,
        (r) => (tree ? undefined : print(`${runLine(r)}\n`)),
        (r) => tree?.update(treeFromJson(r)),
      );
  } finally {
    tree?.update(treeFromJson(last));
    tree?.stop();
  }
  for (const message of last.error_messages) print(`! ${message}\n`);
  await printFailedLogs(api, prefix, last, 20);
  print(`\nRun #${last.slug} ${last.status}\n`);
  return exitFor(last);
}

/** `runs view RUN [--log-failed]`: the tree, and with --log-failed every failed cube's whole log. */
export async function runsView(run: string, flags: RepoFlags & { logFailed?: boolean }): Promise<number> {
  const api = client();
  const prefix = repoPrefix(flags.repo);
  const got = await api.request<RunJson>('GET', `${prefix}/cicd/runs/${runNumber(run)}`);
  if (flags.json) {
    const logs = flags.logFailed ? await failedLogs(api, prefix, got) : undefined;
    printJson(logs ? { ...got, failed_logs: logs } : got);
    return 0;
  }
  print(runTree(got));
  if (flags.logFailed) {
    const failed = await printFailedLogs(api, prefix, got);
    if (failed === 0) print('\nno cube failed\n');
  }
  return 0;
}

function runNumber(run: string): string {
  if (!/^\d+$/.test(run))
    throw new UsageError(`'${run}' is not a run number`, 'runs are numbered 1, 2, 3…: conveyor runs list');
  return run;
}

const failedCubes = (run: RunJson) =>
  run.workflows.flatMap((w) =>
    w.tasks.flatMap((t) =>
      t.cubes
        .filter(
          (c) =>
            (c.status === 'failed' || c.status === 'timeout') && !c.error_message?.startsWith('not started'),
        )
        .map((c) => ({ path: `${w.slug}/${t.slug}/${c.slug}`, cube: c })),
    ),
  );

async function cubeLog(api: ApiClient, prefix: string, run: string, path: string): Promise<string> {
  let text = '';
  const where = [run, ...path.split('/')].map(encodeURIComponent).join('/');
  for (let page = 1; ; page++) {
    const got = await api.request<{ logs: string; page_complete: boolean; done: boolean }>(
      'GET',
      `${prefix}/cicd/logs/${where}?page=${page}`,
    );
    text += got.logs;
    if (!got.page_complete || got.done) return text;
  }
}

async function failedLogs(api: ApiClient, prefix: string, run: RunJson): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const { path } of failedCubes(run)) out[path] = await cubeLog(api, prefix, run.slug, path);
  return out;
}

/** The failed cubes' logs (their last `tail` lines when given), as `conveyor run`'s summary shows them. */
async function printFailedLogs(api: ApiClient, prefix: string, run: RunJson, tail?: number): Promise<number> {
  const failed = failedCubes(run);
  for (const { path, cube } of failed) {
    const lines = (await cubeLog(api, prefix, run.slug, path)).replace(/\n$/, '').split('\n');
    const shown = tail ? lines.slice(-tail) : lines;
    print(
      `\n── ${path.split('/').join(' / ')}: ${cube.status}${cube.error_message ? `: ${cube.error_message}` : ''}\n`,
    );
    if (shown.length < lines.length) print(`   … ${lines.length - shown.length} earlier lines\n`);
    for (const line of shown) print(`   ${line}\n`);
  }
  return failed.length;
}

/** Follows the run's event stream until it ends: `onChange` on status changes, `onEvent` on every state. */
async function waitForEnd(
  api: ApiClient,
  prefix: string,
  run: RunJson,
  onChange?: (run: RunJson) => void,
  onEvent?: (run: RunJson) => void,
): Promise<RunJson> {
  let last = run;
  let lastStatus = run.status;
  for await (const event of sse(api, `${prefix}/cicd/runs/${run.slug}/events`)) {
    if (event.event !== 'run') continue;
    last = JSON.parse(event.data) as RunJson;
    onEvent?.(last);
    if (last.status !== lastStatus) onChange?.(last);
    lastStatus = last.status;
    if (TERMINAL.has(last.status)) break;
  }
  return last;
}

export async function runsCancel(run: string, flags: RepoFlags): Promise<number> {
  const got = await client().request<RunJson>(
    'POST',
    `${repoPrefix(flags.repo)}/cicd/runs/${runNumber(run)}/cancel`,
    {},
  );
  if (flags.json) printJson(got);
  else print(`run #${got.slug}: ${got.status}\n`);
  return 0;
}

export async function runsRestart(run: string, flags: RepoFlags & { failed?: boolean }): Promise<number> {
  const got = await client().request<RunJson>(
    'POST',
    `${repoPrefix(flags.repo)}/cicd/runs/${runNumber(run)}/restart`,
    { scope: flags.failed ? 'failed' : 'all' },
  );
  if (flags.json) printJson(got);
  else print(`restarted run #${run} as run #${got.slug} (${flags.failed ? 'failed tasks' : 'everything'})\n`);
  return 0;
}

function cubePath(path: string): [string, string, string] {
  const parts = path.split('/');
  if (parts.length !== 3 || parts.some((p) => p === ''))
    throw new UsageError(`'${path}' is not WORKFLOW/TASK/CUBE`);
  return parts as [string, string, string];
}

export async function runsLogs(
  run: string,
  path: string | undefined,
  flags: RepoFlags & { follow?: boolean },
): Promise<number> {
  const api = client();
  const prefix = repoPrefix(flags.repo);
  const all = await allCubes(api, prefix, runNumber(run));
  const cubes = path ? [cubePath(path)] : all;
  const wanted = path ? cubePath(path).join('/') : '';
  // A path that is not in the run is a typo: say which cubes it has, before asking for a log.
  if (path && !all.some((c) => c.join('/') === wanted))
    throw new UsageError(
      `run ${run} has no cube ${wanted}`,
      `its cubes: ${all.map((c) => c.join('/')).join(', ') || 'none'}`,
    );
  for (const [w, t, c] of cubes) {
    const where = [runNumber(run), w, t, c].map(encodeURIComponent).join('/');
    if (cubes.length > 1 && !flags.json) print(`── ${w} / ${t} / ${c}\n`);
    if (flags.follow) {
      for await (const event of sse(api, `${prefix}/cicd/logs/${where}/stream`)) {
        if (event.event === 'line') {
          const line = JSON.parse(event.data) as { at: string; text: string };
          print(flags.json ? `${event.data}\n` : `${line.text}\n`);
        }
        if (event.event === 'done') break;
      }
      continue;
    }
    for (let page = 1; ; page++) {
      const got = await api.request<{ logs: string; page_complete: boolean; done: boolean }>(
        'GET',
        `${prefix}/cicd/logs/${where}?page=${page}`,
      );
      print(flags.json ? `${JSON.stringify(got)}\n` : got.logs);
      if (!got.page_complete || got.done) break;
    }
  }
  return 0;
}

async function allCubes(api: ApiClient, prefix: string, run: string): Promise<[string, string, string][]> {
  const got = await api.request<RunJson>('GET', `${prefix}/cicd/runs/${runNumber(run)}`);
  return got.workflows.flatMap((w) =>
    w.tasks.flatMap((t) => t.cubes.map((c) => [w.slug, t.slug, c.slug] as [string, string, string])),
  );
}

export async function artifactsDownload(
  run: string,
  path: string,
  flags: RepoFlags & { output?: string },
): Promise<number> {
  const api = client();
  const where = [runNumber(run), ...cubePath(path)].map(encodeURIComponent).join('/');
  const { artifacts } = await api.request<{ artifacts: ArtifactJson[] }>(
    'GET',
    `${repoPrefix(flags.repo)}/cicd/artifacts/${where}`,
  );
  const dir = flags.output ?? '.';
  await mkdir(dir, { recursive: true });
  const saved: string[] = [];
  for (const artifact of artifacts) {
    if (!artifact.download_url) {
      if (!flags.json) print(`skipped ${artifact.local_path}: ${artifact.status}\n`);
      continue;
    }
    const response = await fetch(artifact.download_url);
    if (!response.ok || !response.body)
      throw new UsageError(`download of ${artifact.local_path} failed: HTTP ${response.status}`);
    const name =
      /filename="([^"]+)"/.exec(response.headers.get('content-disposition') ?? '')?.[1] ?? 'artifact';
    const file = join(dir, name);
    await pipeline(Readable.fromWeb(response.body), createWriteStream(file));
    saved.push(file);
    if (!flags.json) print(`saved ${artifact.local_path} -> ${file}\n`);
  }
  if (flags.json) printJson({ saved });
  else if (artifacts.length === 0) print(`${path} has no artifacts (its config lists no artifacts: paths)\n`);
  return saved.length > 0 || artifacts.length === 0 ? 0 : 1;
}

/** Server-sent events of a GET as {event, data} pairs. */
async function* sse(api: ApiClient, path: string): AsyncGenerator<{ event: string; data: string }> {
  const response = await api.raw('GET', path, undefined, { accept: 'text/event-stream' });
  if (!response.body) return;
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event = /^event: (.*)$/m.exec(block)?.[1] ?? 'message';
      const data = block
        .split('\n')
        .filter((l) => l.startsWith('data: '))
        .map((l) => l.slice(6))
        .join('\n');
      yield { event, data };
    }
  }
}
