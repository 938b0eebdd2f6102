import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * An HTTP proxy between a worker and the server that loses things the way networks and proxies do:
 *
 * - `dropResponses` of the requests are forwarded and answered by the server (which commits what
 *   they did), then the proxy resets the worker's connection instead of passing the answer on;
 * - `resetConnections` of the requests get their connection reset: half before they reach the
 *   server, half once the server has the request, before its answer (the server sees the close).
 *
 * Decisions come from a seeded generator, so a failing run can be replayed with its seed.
 */
export interface FaultProxy {
  url: string;
  seed: number;
  stats: { forwarded: number; dropped: number; reset: number };
  close(): Promise<void>;
}

/** mulberry32: a small seeded generator, good enough to pick faults. */
function generator(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'upgrade']);

export async function startFaultProxy(
  upstream: string,
  options: { dropResponses: number; resetConnections: number; seed?: number },
): Promise<FaultProxy> {
  const seed = options.seed ?? Math.floor(Math.random() * 2 ** 31);
  const random = generator(seed);
  const target = new URL(upstream);
  const stats = { forwarded: 0, dropped: 0, reset: 0 };
  const sockets = new Set<Socket>();
  const reset = (socket: Socket) => {
    stats.reset++;
    socket.resetAndDestroy();
  };

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const roll = random();
    const resetEarly = roll < options.resetConnections / 2;
    const resetLate = !resetEarly && roll < options.resetConnections;
    const drop = !resetEarly && !resetLate && random() < options.dropResponses;
    if (resetEarly) return reset(req.socket);
    const headers = { ...req.headers, host: target.host };
    const out = httpRequest(
      { host: target.hostname, port: target.port, path: req.url, method: req.method, headers },
      (answer) => {
        const parts: Buffer[] = [];
        answer.on('data', (part: Buffer) => parts.push(part));
        answer.on('error', () => req.socket.destroy());
        answer.on('end', () => {
          if (resetLate) return; // the reset below loses this answer
          if (drop) {
            stats.dropped++;
            return req.socket.resetAndDestroy();
          }
          stats.forwarded++;
          const body = Buffer.concat(parts);
          const kept: Record<string, string | string[]> = {};
          for (const [name, value] of Object.entries(answer.headers))
            if (value !== undefined && !HOP.has(name)) kept[name] = value;
          res.writeHead(answer.statusCode ?? 502, { ...kept, 'content-length': body.length });
          res.end(body);
        });
      },
    );
    out.on('error', () => req.socket.destroy());
    req.on('end', () => {
      // The server has the whole request now; resetting here loses its answer and closes its side.
      if (resetLate) setTimeout(() => (out.destroy(), reset(req.socket)), 20);
    });
    req.pipe(out);
  };

  const server = createServer(handle);
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seed,
    stats,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
