import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after } from 'node:test';
import { S3BlobStore } from '../../src/blob/s3-blob-store.js';
import { tempDir } from './repo.js';

const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 's3rver-process.js');
/** s3rver's fixed credentials; the AWS SDK reads them from these variables like any others. */
export const S3_ENV = {
  AWS_ACCESS_KEY_ID: 'S3RVER',
  AWS_SECRET_ACCESS_KEY: 'S3RVER',
  AWS_REGION: 'us-east-1',
};

/**
 * An s3rver process on a free loopback port with the bucket `conveyor`, stopped when the test file
 * ends. `stop()` kills it (SIGKILL, an outage); `start()` brings it back on the same port and data.
 */
export class S3Server {
  private child: ChildProcess | undefined;
  port = 0;
  readonly directory = tempDir('conveyor-s3-');

  /** Call at the top level of a test file (an `after` registered inside a hook runs when the hook ends). */
  static async start(): Promise<S3Server> {
    const server = new S3Server();
    after(() => server.stop());
    await server.start();
    return server;
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The `--blob-store` URL of a prefix in the bucket. */
  url(prefix = 'ci'): string {
    return `s3://conveyor/${prefix}?endpoint=${encodeURIComponent(this.endpoint)}&region=us-east-1&force_path_style=true`;
  }

  store(prefix = 'ci/', partSize?: number): S3BlobStore {
    return new S3BlobStore({
      bucket: 'conveyor',
      prefix,
      ...(partSize ? { partSize } : {}),
      client: {
        endpoint: this.endpoint,
        region: 'us-east-1',
        forcePathStyle: true,
        credentials: { accessKeyId: S3_ENV.AWS_ACCESS_KEY_ID, secretAccessKey: S3_ENV.AWS_SECRET_ACCESS_KEY },
      },
    });
  }

  async start(): Promise<void> {
    if (this.child) return;
    const child = spawn(process.execPath, [SCRIPT, this.directory, String(this.port)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    this.child = child;
    this.port = await new Promise<number>((resolve, reject) => {
      let out = '';
      child.stdout?.on('data', (data: Buffer) => {
        out += data.toString();
        const match = /listening (\d+)/.exec(out);
        if (match) resolve(Number(match[1]));
      });
      child.on('exit', (code) => reject(new Error(`s3rver exited (${code}) before listening: ${out}`)));
    });
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = undefined;
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }
  }
}
