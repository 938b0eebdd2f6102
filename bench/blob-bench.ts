import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { FileBlobStore } from '../src/blob/file-blob-store.js';
import type { BlobStore } from '../src/ports/blob-store.js';
import { tempDir } from '../test/helpers/repo.js';
import { S3Server } from '../test/helpers/s3.js';
import { median, printTable } from './harness.js';

const SIZE = 64 * 1024 * 1024;
const CHUNK = 1024 * 1024;

function source(data: Buffer): Readable {
  return Readable.from(
    (function* () {
      for (let at = 0; at < data.length; at += CHUNK) yield data.subarray(at, at + CHUNK);
    })(),
  );
}

const sink = () =>
  new Writable({
    write(_chunk, _encoding, callback) {
      callback();
    },
  });

async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = process.hrtime.bigint();
  await work();
  return Number(process.hrtime.bigint() - started) / 1e6;
}

/** Put and get of one object `runs` times; milliseconds of each. */
async function measure(
  store: BlobStore,
  data: Buffer,
  runs: number,
): Promise<{ put: number[]; get: number[] }> {
  const put: number[] = [];
  const get: number[] = [];
  for (let i = 0; i < runs; i++) {
    const key = `bench/object-${i}.bin`;
    put.push(await timed(() => store.put(key, source(data))));
    get.push(await timed(async () => pipeline(await store.get(key), sink())));
    await store.delete(key);
  }
  return { put, get };
}

/** Baseline: the same bytes written to and read from a plain file (no hash, no fsync, no rename). */
async function baseline(dir: string, data: Buffer, runs: number): Promise<{ put: number[]; get: number[] }> {
  const put: number[] = [];
  const get: number[] = [];
  for (let i = 0; i < runs; i++) {
    const file = join(dir, `plain-${i}.bin`);
    put.push(await timed(() => pipeline(source(data), createWriteStream(file))));
    get.push(await timed(() => pipeline(createReadStream(file), sink())));
    await rm(file);
  }
  return { put, get };
}

/**
 * Artifact bytes through each blob driver (BENCH_ONLY=blob): a 64 MiB object put (streamed,
 * hashed; S3 in 8 MiB parts) and read back, against plain file writes and reads of the same bytes.
 * S3 is s3rver on loopback, which stores to the same disk: the figure is the driver's and the
 * protocol's overhead, not a real bucket's bandwidth.
 */
export async function benchBlob(runs: number): Promise<void> {
  const data = randomBytes(SIZE);
  const dir = tempDir('conveyor-blob-bench-');
  const s3 = new S3Server();
  await s3.start();
  try {
    const plain = await baseline(dir, data, runs);
    const file = await measure(new FileBlobStore(join(dir, 'store')), data, runs);
    const s3store = s3.store('bench/');
    const bucket = await measure(s3store, data, runs);
    s3store.close();
    const mb = SIZE / (1024 * 1024);
    const rate = (ms: number) => (mb / (ms / 1000)).toFixed(0);
    const base = { put: median(plain.put), get: median(plain.get) };
    const row = (name: string, m: { put: number[]; get: number[] }) => {
      const put = median(m.put);
      const get = median(m.get);
      return [name, rate(put), (base.put / put).toFixed(2), rate(get), (base.get / get).toFixed(2)];
    };
    printTable(
      `Blob store: one ${mb} MiB artifact up and down (median of ${runs}; ratio = MB/s vs plain file I/O)`,
      ['driver', 'upload MiB/s', 'ratio', 'download MiB/s', 'ratio'],
      [
        row('plain file write/read (baseline)', plain),
        row('file:// driver', file),
        row('s3:// driver (s3rver)', bucket),
      ],
    );
  } finally {
    await s3.stop();
    await rm(dir, { recursive: true, force: true });
    await rm(s3.directory, { recursive: true, force: true });
  }
}
