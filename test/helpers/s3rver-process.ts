// A real S3 protocol server (s3rver) in its own process, for tests: `node s3rver-process.js DIR PORT`.
// Prints `listening PORT` once it accepts connections. Killed by the test (SIGKILL: an outage).
import { createRequire } from 'node:module';

interface S3rverInstance {
  run(): Promise<{ port: number }>;
}
const require = createRequire(import.meta.url);
const S3rver = require('s3rver') as new (options: Record<string, unknown>) => S3rverInstance;

const [directory, port] = process.argv.slice(2);
const server = new S3rver({
  address: '127.0.0.1',
  port: Number(port ?? 0),
  directory,
  silent: process.env.S3RVER_VERBOSE !== '1',
  configureBuckets: [{ name: 'conveyor' }],
});
const address = await server.run();
process.stdout.write(`listening ${address.port}\n`);
