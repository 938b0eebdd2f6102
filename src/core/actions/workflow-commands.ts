/**
 * GitHub's workflow commands in an action's output: lines `::name key=value,...::message`.
 * `CommandFilter` takes the raw output stream, acts on the commands (through `handle`) and returns
 * what the log shows: groups and annotations as `##[group]…` / `##[error]…` lines (GitHub's raw-log
 * form), the other commands removed, everything else unchanged. Commands are read at the start of a
 * line (after white space), as GitHub's runner reads them.
 */
export type CommandEvent =
  | { kind: 'mask'; value: string }
  | { kind: 'output'; name: string; value: string }
  | { kind: 'state'; name: string; value: string }
  | { kind: 'annotation'; level: 'error' | 'warning' | 'notice'; message: string; location?: string };

const EMPTY = Buffer.alloc(0);
const MAX_LINE = 64 * 1024;
const DISABLED = ['set-env', 'add-path'];
const SILENT = ['echo', 'add-matcher', 'remove-matcher'];

export class CommandFilter {
  private carry: Buffer = EMPTY;
  /** The current line already proved not to be a command and was passed on. */
  private plain = false;
  private stopToken: string | undefined;
  private warnedSetOutput = false;

  constructor(
    private readonly handle: (event: CommandEvent) => void,
    private readonly debug = false,
  ) {}

  push(chunk: Buffer): Buffer {
    const out: Buffer[] = [];
    let data = this.carry.length ? Buffer.concat([this.carry, chunk]) : chunk;
    this.carry = EMPTY;
    for (let nl = data.indexOf(10); nl >= 0; nl = data.indexOf(10)) {
      const line = data.subarray(0, nl + 1);
      data = data.subarray(nl + 1);
      if (this.plain) {
        out.push(line);
        this.plain = false;
      } else out.push(this.line(line));
    }
    if (data.length > 0) {
      if (this.plain || !mayBeCommand(data)) {
        out.push(data);
        this.plain = true;
      } else this.carry = Buffer.from(data);
    }
    return out.length === 1 ? (out[0] ?? EMPTY) : Buffer.concat(out);
  }

  end(): Buffer {
    const rest = this.carry;
    this.carry = EMPTY;
    if (rest.length === 0 || this.plain) return rest;
    return this.line(rest);
  }

  /** One whole line (with its newline, if it had one): what the log shows of it. */
  private line(raw: Buffer): Buffer {
    const text = raw.toString('utf8').replace(/\r?\n$/, '');
    const match = /^\s*::([A-Za-z][A-Za-z-]*)(?: ([^\n]*?))?::(.*)$/s.exec(text);
    if (!match) return raw;
    const [, rawName = '', props = '', data = ''] = match;
    const name = rawName.toLowerCase();
    if (this.stopToken !== undefined) {
      if (rawName === this.stopToken) {
        this.stopToken = undefined;
        return EMPTY;
      }
      return raw;
    }
    const message = unescapeData(data);
    const properties = parseProperties(props);
    const show = (s: string) => Buffer.from(`${s}\n`);
    switch (name) {
      case 'add-mask':
        if (message.trim() !== '') this.handle({ kind: 'mask', value: message });
        return EMPTY;
      case 'group':
        return show(`##[group]${message}`);
      case 'endgroup':
        return show('##[endgroup]');
      case 'debug':
        return this.debug ? show(`##[debug]${message}`) : EMPTY;
      case 'error':
      case 'warning':
      case 'notice': {
        const location = locationOf(properties);
        const title = properties.title ? `${properties.title}: ` : '';
        this.handle({ kind: 'annotation', level: name, message, ...(location ? { location } : {}) });
        return show(`##[${name}]${location ? `${location}: ` : ''}${title}${message}`);
      }
      case 'set-output':
      case 'save-state': {
        const key = properties.name ?? '';
        if (key === '') return show(`##[warning]::${name}:: needs name=...; the line was ignored`);
        this.handle({ kind: name === 'set-output' ? 'output' : 'state', name: key, value: message });
        if (name === 'save-state' || this.warnedSetOutput) return EMPTY;
        this.warnedSetOutput = true;
        return show('##[warning]The `set-output` command is deprecated; write to $GITHUB_OUTPUT instead');
      }
      case 'stop-commands':
        this.stopToken = message;
        return EMPTY;
      default:
        if (SILENT.includes(name)) return EMPTY;
        if (DISABLED.includes(name))
          return show(
            `##[error]The \`${name}\` command is disabled; write to $${name === 'set-env' ? 'GITHUB_ENV' : 'GITHUB_PATH'} instead`,
          );
        return raw;
    }
  }
}

/** Whether a line's start could still turn out to be a command. */
function mayBeCommand(start: Buffer): boolean {
  if (start.length > MAX_LINE) return false;
  const text = start.subarray(0, 256).toString('latin1').trimStart();
  return text.length < 2 ? true : text.startsWith('::');
}

function unescapeData(text: string): string {
  return text.replace(/%0D/gi, '\r').replace(/%0A/gi, '\n').replace(/%25/g, '%');
}

function unescapeProperty(text: string): string {
  return unescapeData(text).replace(/%3A/gi, ':').replace(/%2C/gi, ',');
}

function parseProperties(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    out[part.slice(0, eq).trim()] = unescapeProperty(part.slice(eq + 1));
  }
  return out;
}

/** `file:line:col`, as far as the annotation gives them. */
function locationOf(p: Record<string, string>): string | undefined {
  if (!p.file) return undefined;
  const line = p.line ?? p.startLine;
  const col = p.col ?? p.startColumn;
  return [p.file, line, line ? col : undefined].filter((x) => x !== undefined && x !== '').join(':');
}
