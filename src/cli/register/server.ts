import type { Command } from 'commander';

/** `conveyor server` and the database-side `admin` commands. */
export function addServerCommands(cli: Command): void {
  cli
    .command('server')
    .description('run the Conveyor server: REST API, embedded worker, webhooks, polling and schedules')
    .option('--host <host>', 'address to listen on (env CONVEYOR_HOST; default 127.0.0.1)')
    .option('--port <port>', 'port (env CONVEYOR_PORT; default 8080)')
    .option('--data-dir <dir>', 'data directory (env CONVEYOR_DATA_DIR; default ./conveyor-data)')
    .option(
      '--database-url <url>',
      'postgres://... to use PostgreSQL (env CONVEYOR_DATABASE_URL; default SQLite in the data dir)',
    )
    .option(
      '--blob-store <url>',
      'file:///dir or s3://bucket/prefix?endpoint=…&region=…&force_path_style=true for artifacts and logs (env CONVEYOR_BLOB_STORE; default the data dir)',
    )
    .option('--concurrency <n>', 'runs executing at once (env CONVEYOR_CONCURRENCY)')
    .option(
      '--embedded-workers <n>',
      'conveyor worker processes this server starts for its tasks; 0: untagged tasks wait for a worker started with --untagged (env CONVEYOR_EMBEDDED_WORKERS; default 1)',
    )
    .option(
      '--log-level <level>',
      'fatal | error | warn | info | debug | trace | silent (env CONVEYOR_LOG_LEVEL; default info)',
    )
    .option('--log-format <format>', 'text | json (env CONVEYOR_LOG_FORMAT; default text)')
    .action(async (flags: import('../commands/server.js').ServerFlags) => {
      const { serverCommand } = await import('../commands/server.js');
      process.exitCode = await serverCommand(flags);
    });

  const admin = cli.command('admin').description('administration on the database directly');
  admin
    .command('create-user')
    .description('create a user and print a personal access token for it')
    .requiredOption('--slug <slug>', 'user name')
    .requiredOption('--email <email>', 'email address')
    .option('--first-name <name>', 'first name')
    .option('--last-name <name>', 'last name')
    .option('--admin', 'make the user a server administrator')
    .option('--data-dir <dir>', 'data directory (env CONVEYOR_DATA_DIR; default ./conveyor-data)')
    .option('--database-url <url>', 'PostgreSQL URL (env CONVEYOR_DATABASE_URL)')
    .option('--json', 'print JSON')
    .action(async (flags: import('../commands/admin.js').CreateUserFlags) => {
      const { createUserCommand } = await import('../commands/admin.js');
      process.exitCode = await createUserCommand(flags);
    });
}
