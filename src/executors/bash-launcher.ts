import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { Readable, Writable } from 'node:stream';
import type { CubeExit, CubeProcess } from '../ports/executor.js';
import type { CubeSandbox } from './cube-sandbox.js';
import { trackGroup, untrackGroup, signalGroup } from './process-group.js';

/**
 * The launcher: a long-lived bash that forks cubes on request. Forking from Node copies the page
 * tables of the whole runner (tens of MB), which costs milliseconds per cube on the scheduler's
 * thread; bash forks in a fraction of that, on another core.
 *
 * Request: a line `ID SLOT LENGTH` then LENGTH bytes of bash (exports and `__cwd`), read in bulk
 * with `read -N` (under LC_ALL=C, so it counts bytes). For each request a wrapper job (its own process group, thanks to `set -m`) runs
 * the cube with stdout and stderr on output slot SLOT (an inherited pipe), waits for it, and writes
 * an end marker carrying the exit code into the same slot, after all of the cube's output.
 * The wrapper ignores SIGTERM so it survives a group-wide stop and can still report.
 * The launcher itself starts with the sandbox's base environment, never the server's, and (the
 * server being root) as the cube user with no new privileges: nothing a request exports ever
 * reaches a process running as root.
 */
const LAUNCHER = [
  'set -m',
  'nonce=$1; slots=$2; bootstrap=$3; first=3',
  'declare -A closers',
  'for ((s=first; s<first+slots; s++)); do',
  '  c=\'\'; for ((o=first; o<first+slots; o++)); do ((o == s)) || c+=" $o>&-"; done',
  '  closers[$s]=$c',
  'done',
  "while IFS=' ' read -r id slot len; do",
  '  LC_ALL=C IFS= read -r -N "$len" payload || break',
  '  {',
  '    eval "$payload"',
  '    if ! cd -- "$__cwd" 2>/dev/null; then',
  '      printf \'conveyor: the workspace %s does not exist\\n\' "$__cwd" >&"$slot"',
  '      printf \'\\0\\036cv%s:%s:%d\\0\' "$nonce" "$id" 126 >&"$slot"',
  '      exit 0',
  '    fi',
  '    unset __cwd',
  '    eval "bash --noprofile --norc -e -c \\"\\$bootstrap\\" </dev/null >&$slot 2>&1 ${closers[$slot]} &"',
  '    cube=$!',
  "    trap '' TERM INT HUP",
  '    wait "$cube"; code=$?',
  '    printf \'\\0\\036cv%s:%s:%d\\0\' "$nonce" "$id" "$code" >&"$slot"',
  '  } &',
  '  printf \'S %s %d\\n\' "$id" "$!"',
  '  disown',
  'done',
].join('\n');

interface Job {
  id: number;
  slot: number;
  pgid?: number;
  onOutput: (chunk: Buffer) => void;
  settle: (exit: CubeExit) => void;
  stopping?: 'timeout' | 'canceled';
  timer: NodeJS.Timeout;
  pendingSignal?: NodeJS.Signals;
  settled: boolean;
}

interface Slot {
  stream: Readable;
  owner?: Job;
  carry: Buffer;
  lastUsed: number;
  /** A wrapper was killed before it could write its marker: the slot is never reused. */
  broken: boolean;
}

export interface LaunchSpec {
  env: Record<string, string>;
  cwd: string;
  timeoutMs: number;
  killGraceMs: number;
  onOutput: (chunk: Buffer) => void;
}

export class BashLauncher {
  private child: ChildProcess | undefined;
  private slots: Slot[] = [];
  private readonly jobs = new Map<number, Job>();
  private nextId = 1;
  private readonly nonce = randomBytes(8).toString('hex');
  private readonly marker: Buffer;
  private lineBuffer = '';
  private useCounter = 0;

  constructor(
    private readonly bootstrap: string,
    private readonly slotCount = 16,
    private readonly sandbox?: CubeSandbox,
  ) {
    this.marker = Buffer.from(`\0\x1ecv${this.nonce}:`);
  }

  /** Whether a free output slot exists; callers fall back to a direct spawn when not. */
  get available(): boolean {
    return this.slots.length === 0 || this.slots.some((s) => !s.owner && !s.broken);
  }

  launch(spec: LaunchSpec): CubeProcess {
    this.ensureStarted();
    const slotIndex = this.pickSlot();
    const slot = this.slots[slotIndex] as Slot;
    let settle!: (exit: CubeExit) => void;
    const done = new Promise<CubeExit>((resolve) => (settle = resolve));
    const job: Job = {
      id: this.nextId++,
      slot: slotIndex,
      onOutput: spec.onOutput,
      settle,
      settled: false,
      timer: setTimeout(() => this.stop(job, 'timeout', spec.killGraceMs), spec.timeoutMs),
    };
    slot.owner = job;
    slot.carry = Buffer.alloc(0);
    this.jobs.set(job.id, job);
    const payload = Buffer.from(this.payload(spec));
    this.send(Buffer.concat([Buffer.from(`${job.id} ${slotIndex + 3} ${payload.length}\n`), payload]));
    return {
      done,
      cancel: () => this.stop(job, 'canceled', spec.killGraceMs),
      killLeftovers: () => {
        if (job.pgid === undefined) return;
        signalGroup(job.pgid, 'SIGKILL');
        untrackGroup(job.pgid);
      },
    };
  }

  /**
   * Requests made in one turn of the event loop go out in one write: each write to the launcher
   * wakes it, and on virtual machines a wake-up costs more than the write.
   */
  private send(request: Buffer): void {
    const stdin = this.child?.stdin as Writable;
    if (!stdin.writableCorked) {
      stdin.cork();
      process.nextTick(() => stdin.uncork());
    }
    stdin.write(request);
  }

  private payload(spec: LaunchSpec): string {
    const lines = [`__cwd=${quote(spec.cwd)}`];
    for (const [name, value] of Object.entries(spec.env)) {
      if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) lines.push(`export ${name}=${quote(value)}`);
    }
    return lines.join('\n');
  }

  private pickSlot(): number {
    let best = -1;
    this.slots.forEach((slot, i) => {
      if (slot.owner || slot.broken) return;
      if (best < 0 || slot.lastUsed < (this.slots[best]?.lastUsed ?? 0)) best = i;
    });
    if (best < 0) throw new Error('no free launcher slot');
    (this.slots[best] as Slot).lastUsed = ++this.useCounter;
    return best;
  }

  private stop(job: Job, reason: 'timeout' | 'canceled', graceMs: number): void {
    if (job.settled || job.stopping) return;
    job.stopping = reason;
    this.signal(job, 'SIGTERM');
    setTimeout(() => {
      if (job.settled) return;
      this.signal(job, 'SIGKILL');
      // SIGKILL also ends the wrapper, so its marker may never come: settle without it.
      setTimeout(() => {
        if (job.settled) return;
        const slot = this.slots[job.slot];
        if (slot) slot.broken = true;
        this.finish(job, { kind: reason });
      }, 500).unref();
    }, graceMs).unref();
  }

  private signal(job: Job, signal: NodeJS.Signals): void {
    if (job.pgid === undefined) job.pendingSignal = signal;
    else signalGroup(job.pgid, signal);
  }

  private finish(job: Job, exit: CubeExit): void {
    if (job.settled) return;
    job.settled = true;
    clearTimeout(job.timer);
    this.jobs.delete(job.id);
    const slot = this.slots[job.slot];
    if (slot?.owner === job) slot.owner = undefined;
    job.settle(exit);
    if (this.jobs.size === 0) this.child?.unref();
  }

  private ensureStarted(): void {
    if (this.child) {
      if (this.jobs.size === 0) this.child.ref();
      return;
    }
    const words = [
      '--noprofile',
      '--norc',
      '-c',
      LAUNCHER,
      'conveyor-launcher',
      this.nonce,
      String(this.slotCount),
      this.bootstrap,
    ];
    const { command, args } = this.sandbox?.wrap('bash', words) ?? { command: 'bash', args: words };
    const child = spawn(command, args, {
      ...(this.sandbox?.options.isolate ? { env: this.sandbox.baseEnv('/') } : {}),
      ...this.sandbox?.ids(),
      stdio: ['pipe', 'pipe', 'inherit', ...Array<'pipe'>(this.slotCount).fill('pipe')],
      // Its own session: Ctrl-C on the terminal signals the foreground process group, and the
      // launcher must not die of it; the runner cancels the cubes itself. It ends when its stdin
      // closes, and its group is killed with the cubes' groups when the runner exits.
      detached: true,
    });
    this.child = child;
    if (child.pid !== undefined) trackGroup(child.pid);
    this.slots = Array.from({ length: this.slotCount }, (_, i) => {
      const stream = child.stdio[i + 3] as Readable;
      const slot: Slot = { stream, carry: Buffer.alloc(0), lastUsed: 0, broken: false };
      stream.on('data', (chunk: Buffer) => this.onSlotData(slot, chunk));
      return slot;
    });
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (text: string) => this.onControl(text));
    child.stdin?.on('error', () => undefined);
    child.on('exit', () => this.onLauncherExit(child));
  }

  private onControl(text: string): void {
    this.lineBuffer += text;
    let newline = this.lineBuffer.indexOf('\n');
    while (newline >= 0) {
      const [tag, id, pid] = this.lineBuffer.slice(0, newline).split(' ');
      this.lineBuffer = this.lineBuffer.slice(newline + 1);
      newline = this.lineBuffer.indexOf('\n');
      const job = tag === 'S' ? this.jobs.get(Number(id)) : undefined;
      if (!job) continue;
      job.pgid = Number(pid);
      trackGroup(job.pgid);
      if (job.pendingSignal) signalGroup(job.pgid, job.pendingSignal);
    }
  }

  /** Splits a slot's stream into the owner's output and the end marker `\0\x1ecvNONCE:ID:CODE\0`. */
  private onSlotData(slot: Slot, chunk: Buffer): void {
    let data = slot.carry.length ? Buffer.concat([slot.carry, chunk]) : chunk;
    slot.carry = Buffer.alloc(0);
    for (;;) {
      const at = data.indexOf(this.marker);
      if (at < 0) {
        // Keep back only a tail that could be the start of a marker split across reads (it begins
        // with a NUL byte), so ordinary output is passed on as soon as it arrives.
        const keep = this.markerPrefixAtEnd(data);
        this.emit(slot, data.subarray(0, data.length - keep));
        slot.carry = Buffer.from(data.subarray(data.length - keep));
        return;
      }
      this.emit(slot, data.subarray(0, at));
      const end = data.indexOf(0, at + this.marker.length);
      if (end < 0) {
        slot.carry = Buffer.from(data.subarray(at));
        return;
      }
      const [id, code] = data.toString('latin1', at + this.marker.length, end).split(':');
      const job = this.jobs.get(Number(id));
      if (job) {
        this.finish(job, job.stopping ? { kind: job.stopping } : { kind: 'exited', code: Number(code) });
      }
      data = data.subarray(end + 1);
    }
  }

  /** Length of the longest end of `data` that is a start of the marker (0 when none). */
  private markerPrefixAtEnd(data: Buffer): number {
    const from = Math.max(0, data.length - (this.marker.length - 1));
    for (let at = data.indexOf(0, from); at >= 0; at = data.indexOf(0, at + 1)) {
      const tail = data.subarray(at);
      if (this.marker.subarray(0, tail.length).equals(tail)) return tail.length;
    }
    return 0;
  }

  private emit(slot: Slot, bytes: Buffer): void {
    if (bytes.length === 0) return;
    const owner = slot.owner;
    if (owner && !owner.settled) owner.onOutput(bytes);
    // Output after a cube's marker comes from processes it left in the background: dropped.
  }

  private onLauncherExit(child: ChildProcess): void {
    if (child.pid !== undefined) untrackGroup(child.pid);
    if (this.child !== child) return;
    this.child = undefined;
    this.slots = [];
    for (const job of [...this.jobs.values()])
      this.finish(job, { kind: 'error', message: 'the process launcher stopped unexpectedly' });
  }

  close(): void {
    this.child?.stdin?.end();
    this.child?.unref();
  }
}

function quote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}
