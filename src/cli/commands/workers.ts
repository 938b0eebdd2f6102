import type { Command } from 'commander';
import { ApiClient, loadConfig } from '../client.js';

interface TokenJson {
  id: string;
  note: string;
  created_at: string;
  revoked_at?: string;
  last_used_at?: string;
  token?: string;
}

interface WorkerJson {
  name: string;
  tags: string[];
  slots: number;
  running: number;
  version: string;
  executor: string;
  containment: string;
  state: string;
  last_seen_at: string;
}

const print = (text: string) => process.stdout.write(text);
const json = (value: unknown) => print(`${JSON.stringify(value, null, 2)}\n`);

async function tokensCreate(flags: { note?: string; json?: boolean }): Promise<number> {
  const client = new ApiClient(loadConfig());
  const got = await client.request<TokenJson>('POST', '/workers/tokens', {
    ...(flags.note ? { note: flags.note } : {}),
  });
  if (flags.json) json(got);
  else
    print(
      `worker token ${got.id} created; it is shown only now:\n\n  ${got.token ?? ''}\n\n` +
        `start a worker with it (on any host that reaches this server):\n` +
        `  conveyor worker --server ${client.server} --token <token> --tags linux\n`,
    );
  return 0;
}

async function tokensList(flags: { json?: boolean }): Promise<number> {
  const got = await new ApiClient(loadConfig()).request<{ tokens: TokenJson[] }>('GET', '/workers/tokens');
  if (flags.json) json(got);
  else if (got.tokens.length === 0)
    print('no worker tokens; create one with `conveyor workers tokens create`\n');
  else
    for (const t of got.tokens)
      print(
        `${t.id}  ${(t.revoked_at ? `revoked ${t.revoked_at}` : `created ${t.created_at}`).padEnd(34)}  ${t.note}\n`,
      );
  return 0;
}

async function tokensRevoke(id: string, flags: { json?: boolean }): Promise<number> {
  await new ApiClient(loadConfig()).request('DELETE', `/workers/tokens/${encodeURIComponent(id)}`);
  print(flags.json ? `${JSON.stringify({ id, revoked: true })}\n` : `worker token ${id} revoked\n`);
  return 0;
}

async function workersList(flags: { json?: boolean }): Promise<number> {
  const got = await new ApiClient(loadConfig()).request<{ workers: WorkerJson[] }>('GET', '/workers');
  if (flags.json) {
    json(got);
    return 0;
  }
  if (got.workers.length === 0) {
    print('no workers yet; start one with `conveyor worker --server URL --token TOKEN`\n');
    return 0;
  }
  const rows = got.workers.map((w) => [
    w.name,
    w.state,
    `${w.running}/${w.slots}`,
    w.tags.join(',') || '-',
    w.executor,
    w.version,
    w.last_seen_at,
  ]);
  const head = ['NAME', 'STATE', 'RUNNING', 'TAGS', 'EXECUTOR', 'VERSION', 'LAST SEEN'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  for (const row of [head, ...rows])
    print(
      `${row
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd()}\n`,
    );
  return 0;
}

/** `conveyor workers ...`: worker tokens and the list of workers (administrators). */
export function addWorkerAdminCommands(cli: Command): void {
  const workers = cli
    .command('workers')
    .description('workers that run tasks on other hosts (administrators)');
  workers
    .command('list')
    .description('list registered workers: state, running/slots, tags, last seen')
    .option('--json', 'print JSON')
    .action(async (flags: { json?: boolean }) => {
      process.exitCode = await workersList(flags);
    });
  const tokens = workers.command('tokens').description('tokens that let a `conveyor worker` connect');
  tokens
    .command('create')
    .description('create a worker token (shown once)')
    .option('--note <text>', 'what the token is for, e.g. the host')
    .option('--json', 'print JSON')
    .action(async (flags: { note?: string; json?: boolean }) => {
      process.exitCode = await tokensCreate(flags);
    });
  tokens
    .command('list')
    .description('list worker tokens (never their values)')
    .option('--json', 'print JSON')
    .action(async (flags: { json?: boolean }) => {
      process.exitCode = await tokensList(flags);
    });
  tokens
    .command('revoke')
    .description('revoke a worker token: workers using it are refused from then on')
    .argument('<id>', 'token id')
    .option('--json', 'print JSON')
    .action(async (id: string, flags: { json?: boolean }) => {
      process.exitCode = await tokensRevoke(id, flags);
    });
}
