import type { FastifyInstance } from 'fastify';
import { buildApp } from './build-app.js';
import { composeServer, type Composed, type ServerConfig } from './compose.js';

export interface RunningServer {
  url: string;
  app: FastifyInstance;
  composed: Composed;
  /** Stops accepting requests, drains running work (up to `graceMs`), closes the database. */
  close(graceMs?: number): Promise<void>;
}

/** Composes, listens, then starts the worker and triggers; resolves once `GET /healthz` answers. */
export async function startServer(config: ServerConfig): Promise<RunningServer> {
  let url = config.publicUrl ?? '';
  const composed = await composeServer(config, () => url);
  const app = await buildApp(composed.ctx);
  try {
    const address = await app.listen({ host: config.host, port: config.port });
    url ||= address.replace('[::1]', 'localhost');
  } catch (error) {
    await composed.stop(0);
    throw error;
  }
  await composed.start();
  let closing: Promise<void> | undefined;
  return {
    url,
    app,
    composed,
    close: (graceMs = 30_000) =>
      (closing ??= (async () => {
        await app.close();
        await composed.stop(graceMs);
      })()),
  };
}
