import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';

/** git's pkt-line: 4 hex digits of length (itself included), then the data. */
function pktLine(text: string): string {
  return `${(text.length + 4).toString(16).padStart(4, '0')}${text}`;
}

/** `Git-Protocol` header values git sends (e.g. `version=2`); anything else is dropped. */
function protocolEnv(header: string | undefined): Record<string, string> {
  return header && /^[A-Za-z0-9=:.,_-]{1,64}$/.test(header) ? { GIT_PROTOCOL: header } : {};
}

const UPLOAD_PACK = [
  // Workers fetch the one commit their task runs, by id.
  '-c',
  'uploadpack.allowAnySHA1InWant=true',
  'upload-pack',
  '--stateless-rpc',
];

/**
 * The server half of git's smart HTTP for fetches (`git-upload-pack` only: workers never push),
 * the same answers `git http-backend` gives, run straight on a bare mirror.
 */
export function advertiseRefs(
  mirror: string,
  gitProtocol: string | undefined,
): { contentType: string; body: Readable } {
  const env = protocolEnv(gitProtocol);
  const child = spawn('git', [...UPLOAD_PACK, '--advertise-refs', mirror], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const body = child.stdout;
  // Protocol v2 answers with its capabilities alone; v0 starts with the service line.
  if (!env.GIT_PROTOCOL?.includes('version=2')) body.unshift(`${pktLine('# service=git-upload-pack\n')}0000`);
  return { contentType: 'application/x-git-upload-pack-advertisement', body };
}

export function uploadPack(
  mirror: string,
  gitProtocol: string | undefined,
  request: Readable,
  encoding: string | undefined,
): { contentType: string; body: Readable } {
  const child = spawn('git', [...UPLOAD_PACK, mirror], {
    env: { ...process.env, ...protocolEnv(gitProtocol) },
    stdio: ['pipe', 'pipe', 'ignore'],
  });
  const input = encoding === 'gzip' ? request.pipe(createGunzip()) : request;
  input.on('error', () => child.kill());
  child.stdin.on('error', () => undefined);
  input.pipe(child.stdin);
  return { contentType: 'application/x-git-upload-pack-result', body: child.stdout };
}
