import type { Command } from 'commander';

/** Signing in and out, and checking the server. */
export function addAuthCommands(cli: Command): void {
  const load = () => import('../commands/auth.js');
  cli
    .command('login')
    .description('sign in to a server: the token from a hidden prompt, standard input, or --token')
    .option('--server <url>', 'server URL, e.g. http://127.0.0.1:8080 (env CONVEYOR_SERVER)')
    .option('--token <token>', 'personal access token (prefer the prompt or stdin: argv shows in ps)')
    .option('--json', 'print JSON')
    .action(async (flags: { server?: string; token?: string; json?: boolean }) => {
      process.exitCode = await (await load()).loginCommand(flags);
    });
  cli
    .command('logout')
    .description('forget the stored server and token')
    .option('--json', 'print JSON')
    .action(async (flags: { json?: boolean }) => {
      process.exitCode = (await load()).logoutCommand(flags);
    });
  cli
    .command('whoami')
    .description('the user the token belongs to')
    .option('--json', 'print JSON')
    .action(async (flags: { json?: boolean }) => {
      process.exitCode = await (await load()).whoamiCommand(flags);
    });
  cli
    .command('auth')
    .description('the stored sign-in')
    .command('status')
    .description('which server, which user, where the token comes from')
    .option('--json', 'print JSON')
    .action(async (flags: { json?: boolean }) => {
      process.exitCode = await (await load()).authStatusCommand(flags);
    });
  cli
    .command('ping')
    .description('whether the server answers; --wait returns as soon as it does')
    .option('--server <url>', 'server URL (default: the stored one, or CONVEYOR_SERVER)')
    .option('--wait', 'retry until the server answers')
    .option('--timeout <seconds>', 'give up waiting after this long (default 30)')
    .option('--json', 'print JSON')
    .action(async (flags: { server?: string; wait?: boolean; timeout?: string; json?: boolean }) => {
      process.exitCode = await (await load()).pingCommand(flags);
    });
}
