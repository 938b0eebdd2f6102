import { spawn } from 'node:child_process';

/**
 * Reads several objects with one `git cat-file --batch`: one process instead of one per object.
 * Each spec is anything `git rev-parse` takes (`main^{commit}`, `<sha>:path/file`); the answer has
 * the object's id and bytes, or undefined for a spec that names nothing.
 */
export interface GitObject {
  oid: string;
  data: Buffer;
}

export function catFileBatch(gitDir: string, specs: string[]): Promise<(GitObject | undefined)[]> {
  return new Promise((resolve, reject) => {
    if (specs.some((s) => s.includes('\n'))) {
      reject(new Error('object names cannot contain newlines'));
      return;
    }
    const child = spawn('git', ['--git-dir', gitDir, 'cat-file', '--batch'], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const chunks: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => chunks.push(d));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) {
        reject(new Error(`git cat-file failed in ${gitDir}: ${stderr.trim() || `exit ${code}`}`));
        return;
      }
      try {
        resolve(parseBatch(Buffer.concat(chunks), specs.length));
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
    // A git that exits early (no such repository) closes its stdin: the exit code reports that.
    child.stdin.on('error', () => undefined);
    child.stdin.end(specs.map((s) => `${s}\n`).join(''));
  });
}

/** `<oid> <type> <size>\n<bytes>\n` per found object, `<spec> missing\n` (or ambiguous) otherwise. */
function parseBatch(out: Buffer, count: number): (GitObject | undefined)[] {
  const results: (GitObject | undefined)[] = [];
  let at = 0;
  for (let i = 0; i < count; i++) {
    const end = out.indexOf(10, at);
    if (end < 0) throw new Error('git cat-file answered fewer objects than asked');
    const header = out.toString('utf8', at, end);
    at = end + 1;
    const found = /^([0-9a-f]{40,64}) \w+ (\d+)$/.exec(header);
    if (!found) {
      results.push(undefined);
      continue;
    }
    const size = Number(found[2]);
    results.push({ oid: found[1] ?? '', data: out.subarray(at, at + size) });
    at += size + 1;
  }
  return results;
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
