import { spawn } from 'node:child_process';

/**
 * Reads several objects with one `git cat-file --batch`: one process instead of one per object.
 * Each spec is anything `git rev-parse` takes (`main^{commit}`, `<sha>:path/file`); the answer has
 * the object's id and bytes, or undefined for a spec that names nothing.
 */
export interface GitObject {
  oid: string;
  /** The bytes; empty when the object is larger than `maxBytes` (then `size` says how large). */
  data: Buffer;
  size: number;
  tooLarge?: boolean;
}

/**
 * `maxBytes`: objects larger than this are not kept (their bytes are skipped as they stream by),
 * so a 50 MB blob named by a config path costs no memory.
 */
export function catFileBatch(
  gitDir: string,
  specs: string[],
  maxBytes = Infinity,
): Promise<(GitObject | undefined)[]> {
  return new Promise((resolve, reject) => {
    if (specs.some((s) => s.includes('\n'))) {
      reject(new Error('object names cannot contain newlines'));
      return;
    }
    const child = spawn('git', ['--git-dir', gitDir, 'cat-file', '--batch'], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const parser = new BatchParser(maxBytes);
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => parser.push(d));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) {
        reject(new Error(`git cat-file failed in ${gitDir}: ${stderr.trim() || `exit ${code}`}`));
        return;
      }
      if (parser.results.length < specs.length) {
        reject(new Error('git cat-file answered fewer objects than asked'));
        return;
      }
      resolve(parser.results);
    });
    // A git that exits early (no such repository) closes its stdin: the exit code reports that.
    child.stdin.on('error', () => undefined);
    child.stdin.end(specs.map((s) => `${s}\n`).join(''));
  });
}

/**
 * `<oid> <type> <size>\n<bytes>\n` per found object, `<spec> missing\n` (or ambiguous) otherwise,
 * parsed as it streams.
 */
class BatchParser {
  readonly results: (GitObject | undefined)[] = [];
  private header = Buffer.alloc(0);
  private body: { object: GitObject; parts: Buffer[]; left: number } | undefined;

  constructor(private readonly maxBytes: number) {}

  push(chunk: Buffer): void {
    let data = chunk;
    while (data.length > 0) {
      if (this.body) {
        const take = Math.min(this.body.left, data.length);
        if (!this.body.object.tooLarge) this.body.parts.push(data.subarray(0, take));
        this.body.left -= take;
        data = data.subarray(take);
        if (this.body.left === 0) {
          const { object, parts } = this.body;
          if (!object.tooLarge) object.data = Buffer.concat(parts).subarray(0, object.size);
          this.results.push(object);
          this.body = undefined;
        }
        continue;
      }
      const end = data.indexOf(10);
      if (end < 0) {
        this.header = Buffer.concat([this.header, data]);
        return;
      }
      const line = Buffer.concat([this.header, data.subarray(0, end)]).toString('utf8');
      this.header = Buffer.alloc(0);
      data = data.subarray(end + 1);
      const found = /^([0-9a-f]{40,64}) \w+ (\d+)$/.exec(line);
      if (!found) {
        this.results.push(undefined);
        continue;
      }
      const size = Number(found[2]);
      const object: GitObject = { oid: found[1] ?? '', data: Buffer.alloc(0), size };
      if (size > this.maxBytes) object.tooLarge = true;
      // The object's bytes and the newline after them.
      this.body = { object, parts: [], left: size + 1 };
    }
  }
}

export interface ParsedCommit {
  author: string;
  /** Committer time, RFC 3339 UTC. */
  timestamp: string;
  message: string;
}

/** The fields Conveyor shows of a raw commit object. */
export function parseCommit(raw: Buffer): ParsedCommit {
  const text = raw.toString('utf8');
  const split = text.indexOf('\n\n');
  const head = split < 0 ? text : text.slice(0, split);
  const message = split < 0 ? '' : text.slice(split + 2);
  const author = /^author (.*) (\d+) [+-]\d{4}$/m.exec(head);
  const committer = /^committer .* (\d+) [+-]\d{4}$/m.exec(head);
  const seconds = Number(committer?.[1] ?? author?.[2] ?? 0);
  return {
    author: author?.[1] ?? '',
    timestamp: new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    message: message.replace(/\n+$/, ''),
  };
}
