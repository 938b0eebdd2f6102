import { Option, type Command } from 'commander';

/** `conveyor worker`: runs a server's tasks on this host (docs/workers.md). */
export function addWorkerCommand(cli: Command): void {
  cli
    .command('worker')
    .description('run tasks of a server on this host (outbound HTTP only), matched by tags')
    .option('--server <urls>', 'server URL(s), comma separated (env CONVEYOR_SERVER)')
    .option('--token <token>', 'worker token (env CONVEYOR_WORKER_TOKEN): conveyor workers tokens create')
    .option('--name <name>', 'worker name (default: the host name)')
    .option('--tags <a,b>', 'tags this worker offers; self-hosted is implicit')
    .option('--slots <n>', 'tasks at once (default 1)')
    .option('--work-dir <dir>', 'task directories, caches and state (default ./conveyor-worker)')
    .option('--executor <kind>', 'native (default) or container')
    .option('--untagged', 'also take tasks whose runs_on names no worker tag (docs/workers.md)')
    .option('--parallelism <n>', 'cubes running at once in one task (default 4)')
    // The server's own embedded workers: token on stdin, ends with the server (docs/workers.md).
    .addOption(new Option('--embedded').hideHelp())
    .action(async (flags: import('../commands/worker.js').WorkerFlags) => {
      const { workerCommand } = await import('../commands/worker.js');
      process.exitCode = await workerCommand(flags);
    });
}
