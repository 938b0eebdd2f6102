import { WorkerClient } from '../src/worker/client.js';

/**
 * One process holding many idle workers for the idle-cost benchmark (bench/workers-scale.ts):
 * `node idle-workers-child.js URL TOKEN PREFIX COUNT`. Each worker registers under its own name
 * and keeps its own long poll held (25 s, as `conveyor worker` does), with a free slot and a tag
 * no task asks for. Prints `ready` once every worker has registered.
 */
const [url = '', token = '', prefix = 'idle', count = '1'] = process.argv.slice(2);
const stop = new AbortController();
process.once('SIGTERM', () => stop.abort());

async function worker(name: string, registered: () => void): Promise<void> {
  const client = new WorkerClient([url], token, () => undefined);
  const json = { name, tags: ['self-hosted', 'bench-idle'], slots: 1, version: 'bench' };
  await client.call('POST', '/worker/v1/register', {
    json: { ...json, executor: 'native', containment: 'none' },
    signal: stop.signal,
  });
  registered();
  while (!stop.signal.aborted) {
    const got = await client
      .call('POST', '/worker/v1/poll', {
        json: { name, free_slots: 1, tasks: [], wait_ms: 25_000 },
        signal: stop.signal,
      })
      .catch(() => undefined);
    if (got?.status === 409)
      await client.call('POST', '/worker/v1/register', {
        json: { ...json, executor: 'native', containment: 'none' },
        signal: stop.signal,
      });
  }
}

let left = Number(count);
const all = Array.from({ length: Number(count) }, (_, i) =>
  worker(`${prefix}-${i}`, () => {
    if (--left === 0) process.stdout.write('ready\n');
  }).catch(() => undefined),
);
await Promise.all(all);
