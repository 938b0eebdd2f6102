import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Encryption at rest for secrets (AES-256-GCM) and signing of short-lived URLs (HMAC-SHA256), both
 * from one server key. The key never leaves the server; stored values look like `v1:<iv>:<tag>:<data>`.
 */
export class SecretBox {
  private readonly encKey: Buffer;
  private readonly signKey: Buffer;

  constructor(key: Buffer | string) {
    const material = typeof key === 'string' ? Buffer.from(key, 'utf8') : key;
    if (material.length < 16) throw new Error('the secret key must have at least 16 bytes');
    this.encKey = createHash('sha256').update('conveyor-enc\0').update(material).digest();
    this.signKey = createHash('sha256').update('conveyor-sign\0').update(material).digest();
  }

  static generateKey(): string {
    return randomBytes(32).toString('base64url');
  }

  encrypt(plain: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.encKey, iv);
    const data = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return ['v1', iv, cipher.getAuthTag(), data]
      .map((p) => (typeof p === 'string' ? p : p.toString('base64url')))
      .join(':');
  }

  decrypt(stored: string): string {
    const [version, iv, tag, data] = stored.split(':');
    if (version !== 'v1' || iv === undefined || tag === undefined || data === undefined)
      throw new Error('stored secret has an unknown format');
    const decipher = createDecipheriv('aes-256-gcm', this.encKey, Buffer.from(iv, 'base64url'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(data, 'base64url')), decipher.final()]).toString(
      'utf8',
    );
  }

  sign(payload: string): string {
    return createHmac('sha256', this.signKey).update(payload).digest('base64url');
  }

  verify(payload: string, signature: string): boolean {
    return safeEqual(this.sign(payload), signature);
  }
}

/** Constant-time comparison of two strings. */
export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** A new personal access token: 32 random bytes with a recognizable prefix (for secret scanners). */
export function newToken(): string {
  return `cvy_${randomBytes(32).toString('base64url')}`;
}

/** Tokens are random, so one SHA-256 is the right hash: a slow hash buys nothing and costs every request. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** The server key: CONVEYOR_SECRET_KEY, else `secret.key` in the data dir (created once, mode 0600). */
export function loadSecretBox(dataDir: string, env: NodeJS.ProcessEnv): SecretBox {
  if (env.CONVEYOR_SECRET_KEY) return new SecretBox(env.CONVEYOR_SECRET_KEY);
  const file = join(dataDir, 'secret.key');
  if (!existsSync(file)) {
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(file, `${SecretBox.generateKey()}\n`, { mode: 0o600, flag: 'wx' });
  }
  chmodSync(file, 0o600);
  return new SecretBox(readFileSync(file, 'utf8').trim());
}
