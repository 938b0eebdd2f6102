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
  // Embedded workers talk to the server over loopback (or the one address it listens on).
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const local = ['0.0.0.0', '::', ''].includes(config.host) ? '127.0.0.1' : config.host;
  await composed.start(`http://${local.includes(':') ? `[${local}]` : local}:${port}`);
  let closing: Promise<void> | undefined;
  return {
    url,
    app,
    composed,
    close: (graceMs = 30_000) => (closing ??= composed.stop(graceMs, () => app.close())),
  };
}
