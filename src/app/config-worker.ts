import { parentPort } from 'node:worker_threads';
import { parseConfigFile } from './load-config.js';

/**
 * The config parser's thread (config-parser-pool.ts): one request `{id, text, file}` at a time,
 * answered with `{id, result}`. A config that takes too long is ended from outside (terminate).
 * Expression sites carry a position function (`at`) used only while parsing: functions cannot
 * cross threads, so they are left out of the answer.
 */
parentPort?.on('message', (message: { id: number; text: string; file: string }) => {
  const result = parseConfigFile(message.text, message.file);
  parentPort?.postMessage({ id: message.id, result: withoutFunctions(result) });
});

function withoutFunctions(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutFunctions);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value))
    if (typeof inner !== 'function') out[key] = withoutFunctions(inner);
  return out;
}
