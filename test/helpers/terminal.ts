import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import xterm from '@xterm/headless';
import { CONTAINER_ENV } from './cli.js';

/**
 * A real pseudo-terminal: python3's `pty` module forks the program on a new PTY (its own session,
 * the PTY its controlling terminal, the window size set with TIOCSWINSZ) and relays bytes both
 * ways. What the program draws is fed to a headless xterm, so a test reads the screen a person
 * would see, and a 0x03 byte written to it is Ctrl-C: the line discipline sends SIGINT to the
 * whole foreground process group, as in a shell.
 */
const RELAY = String.raw`
import os, pty, sys, select, struct, fcntl, termios
cols, rows = int(sys.argv[1]), int(sys.argv[2])
pid, fd = pty.fork()
if pid == 0:
    fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack('HHHH', rows, cols, 0, 0))
    os.execvp(sys.argv[3], sys.argv[3:])
out = sys.stdout.buffer
stdin_open = True
while True:
    fds = [fd] + ([0] if stdin_open else [])
    ready, _, _ = select.select(fds, [], [])
    if 0 in ready:
        data = os.read(0, 1024)
        if data: os.write(fd, data)
        else: stdin_open = False
    if fd in ready:
        try:
            data = os.read(fd, 65536)
        except OSError:
            break
        if not data: break
        out.write(data); out.flush()
_, status = os.waitpid(pid, 0)
code = os.waitstatus_to_exitcode(status)
sys.exit(code if code >= 0 else 128 - code)
`;

export interface TerminalSession {
  /** The program's process id (the session leader on the PTY). */
  readonly pid: number;
  /** Bytes as the keyboard would send them (`'\x03'` is Ctrl-C). */
  type(text: string): void;
  /** The visible screen, one string per row, right-trimmed. */
  screen(): string[];
  /** Every row of the buffer (scrollback and screen), and whether a row was wrapped from the previous one. */
  allRows(): { text: string; wrapped: boolean }[];
  /** Everything the program wrote, escape codes included. */
  raw(): string;
  /** Waits until `check` holds for the screen text, or fails after the deadline with the screen. */
  waitForScreen(check: (text: string) => boolean, what: string, deadlineMs?: number): Promise<string>;
  /** Resolves with the exit code once the program has ended and its output is drawn. */
  exited: Promise<number>;
  kill(): void;
}

export function openTerminal(
  command: string,
  args: string[],
  options: { cols?: number; rows?: number; cwd?: string; env?: Record<string, string> } = {},
): TerminalSession {
  const cols = options.cols ?? 160;
  const rows = options.rows ?? 45;
  const term = new xterm.Terminal({ cols, rows, allowProposedApi: true, scrollback: 1000 });
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    ...CONTAINER_ENV,
    TERM: 'xterm-256color',
    ...options.env,
  };
  delete env.NO_COLOR;
  const child: ChildProcessWithoutNullStreams = spawn(
    'python3',
    ['-c', RELAY, String(cols), String(rows), command, ...args],
    { cwd: options.cwd, env, stdio: 'pipe' },
  );
  let raw = '';
  let pending = Promise.resolve();
  child.stdout.on('data', (chunk: Buffer) => {
    raw += chunk.toString('utf8');
    pending = pending.then(() => new Promise<void>((resolve) => term.write(chunk, resolve)));
  });
  child.stderr.on('data', (chunk: Buffer) => (raw += `[relay] ${chunk.toString('utf8')}`));
  const exited = new Promise<number>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => void pending.then(() => resolve(code ?? 1)));
  });
  const screen = (): string[] => {
    const buffer = term.buffer.active;
    const out: string[] = [];
    for (let y = 0; y < term.rows; y++)
      out.push(
        buffer
          .getLine(buffer.viewportY + y)
          ?.translateToString(true)
          .trimEnd() ?? '',
      );
    return out;
  };
  return {
    // The relay forks at once; its child is the program. Tests look for processes under it.
    pid: child.pid ?? -1,
    type: (text) => child.stdin.write(text),
    screen,
    allRows: () => {
      const buffer = term.buffer.active;
      const out: { text: string; wrapped: boolean }[] = [];
      for (let y = 0; y < buffer.length; y++) {
        const line = buffer.getLine(y);
        if (line) out.push({ text: line.translateToString(true).trimEnd(), wrapped: line.isWrapped });
      }
      while (out.length && out.at(-1)?.text === '') out.pop();
      return out;
    },
    raw: () => raw,
    async waitForScreen(check, what, deadlineMs = 15_000) {
      const end = Date.now() + deadlineMs;
      for (;;) {
        await pending;
        const text = screen().join('\n');
        if (check(text)) return text;
        if (Date.now() > end)
          throw new Error(
            `timed out waiting for ${what}; the screen:\n${text}\n--- raw:\n${raw.slice(-3000)}`,
          );
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    exited,
    kill: () => child.kill('SIGKILL'),
  };
}

/** Runs a program on a terminal to its end; returns its exit code and final screen. */
export async function runOnTerminal(
  command: string,
  args: string[],
  options: {
    cols?: number;
    rows?: number;
    cwd?: string;
    env?: Record<string, string>;
    deadlineMs?: number;
  } = {},
): Promise<{ code: number; text: string; rows: { text: string; wrapped: boolean }[]; raw: string }> {
  const session = openTerminal(command, args, options);
  const timer = setTimeout(() => session.kill(), options.deadlineMs ?? 60_000);
  const code = await session.exited;
  clearTimeout(timer);
  const rows = session.allRows();
  return { code, text: rows.map((r) => r.text).join('\n'), rows, raw: session.raw() };
}
