import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { toErrorBody } from '../http-errors.js';
import { authenticateRequest } from '../ui/authenticate-request.js';
import { plugin } from '../plugin.js';
import { notFound } from '../../app/errors.js';
import type { RunEvents } from '../../app/run-events.js';
import { isTerminal } from '../../core/run/status.js';
import type { ServerContext } from '../context.js';
import { repoFor, repoPaths, type RepoParams } from '../repo-paths.js';
import { getCube } from '../run-view.js';

type RunParams = RepoParams & { run_slug: string };
type CubeParams = RunParams & { workflow_slug: string; task_slug: string; cube_slug: string };

/** How long after an engine event the stream keeps re-reading every RECHECK_MS. */
const AFTER_EVENT_MS = 200;
const RECHECK_MS = 25;

/**
 * Server-sent events: a run's state (`event: run`, the whole Run, each time it changes; the stream
 * ends after the run ends) and a cube's log (`event: line` per line, then `event: done`).
 * Events (this replica's, and the other replicas' through the notifier) wake a stream at once; a
 * slow poll is the backstop.
 */
export function streamRoutes(ctx: ServerContext): FastifyPluginAsync {
  const { services, events } = ctx;

  return plugin((app) => {
    for (const path of repoPaths('/cicd/runs/:run_slug/events', false)) {
      app.get<{ Params: RunParams }>(path, { schema: { tags: ['CICD streams'] } }, async (request, reply) => {
        const repo = await repoFor(ctx, request.principal, request.params, 'reader');
        const slug = request.params.run_slug;
        const first = await ctx.live.get(repo, slug);
        if (!first) throw notFound(`run ${slug} not found`);
        const sse = open(
          reply,
          reauthorize(ctx, request, () => repoFor(ctx, request.principal, request.params, 'reader')),
        );
        // The run's live view (app/live-views.ts): its body, rendered once for every reader.
        const last = { tag: '', body: '' };
        await follow(events, sse, first.run.id, async () => {
          const view = await ctx.live.get(repo, slug);
          if (!view) return true;
          const body = await view.runBody(repo, services.clock.now());
          if (view.etag() !== last.tag && body !== last.body) {
            sse.sendJson('run', body, String(view.storeVersion));
            last.body = body;
          }
          last.tag = view.etag();
          return isTerminal(view.run.status);
        });
      });
    }

    for (const path of repoPaths('/cicd/logs/:run_slug/:workflow_slug/:task_slug/:cube_slug/stream', false)) {
      app.get<{ Params: CubeParams; Querystring: ResumeQuery }>(
        path,
        { schema: { tags: ['CICD streams'] } },
        async (request, reply) => {
          const repo = await repoFor(ctx, request.principal, request.params, 'reader');
          const p = request.params;
          const run = await services.runs.findRun(repo.id, p.run_slug);
          if (!run) throw notFound(`run ${p.run_slug} not found`);
          const cubeId = getCube(run, p.workflow_slug, p.task_slug, p.cube_slug).cube.id;
          const sse = open(
            reply,
            reauthorize(ctx, request, () => repoFor(ctx, request.principal, request.params, 'reader')),
          );
          // Resumable: each line's id is its number + 1, so a reconnect's Last-Event-ID (or
          // ?last_event_id= / ?from=) continues exactly after the last line the client got.
          const sent = resumeFrom(request.headers['last-event-id'], request.query);
          let offset = 0;
          let n = 0;
          await follow(events, sse, run.id, async () => {
            const now = await services.runs.findRun(repo.id, run.slug);
            const cube = now && getCube(now, p.workflow_slug, p.task_slug, p.cube_slug).cube;
            const done = !cube || isTerminal(cube.status);
            // Read by range from where the last read stopped, about 1 MiB at a time, waiting for a
            // slow reader to drain: memory stays flat whatever the log size. While the cube runs,
            // an unfinished last line is sent once its newline is written. Lines before the
            // resume point are read past, not sent.
            while (!sse.closed()) {
              const got = await ctx.logs.readFrom(run.id, cubeId, offset, done);
              for (const line of got.lines) {
                if (n >= sent)
                  sse.send(
                    'line',
                    { n, at: new Date(line.at).toISOString(), text: line.text },
                    String(n + 1),
                  );
                n++;
              }
              await sse.drained();
              if (got.next === offset) break;
              offset = got.next;
            }
            if (done) sse.send('done', { status: cube?.status ?? 'unknown' });
            return done;
          });
        },
      );
    }
  });
}

type ResumeQuery = { last_event_id?: string; from?: string };

/** Where a log stream starts: after the Last-Event-ID the client got, else at `from`, else at line 0. */
function resumeFrom(header: string | string[] | undefined, query: ResumeQuery): number {
  const given = (typeof header === 'string' ? header : undefined) ?? query.last_event_id ?? query.from;
  const n = Number(given);
  return given !== undefined && /^\d{1,12}$/.test(given) && Number.isSafeInteger(n) ? n : 0;
}

export interface Sse {
  send(event: string, data: unknown, id?: string): void;
  /** `send` of data serialized already. */
  sendJson(event: string, json: string, id?: string): void;
  /** Resolves once what was sent has left the buffer (or the client went away). */
  drained(): Promise<void>;
  closed(): boolean;
  end(): void;
}

/** How often an open stream checks that its caller may still read it (D16). */
export const REAUTHORIZE_MS = 2000;

/**
 * Opens a server-sent events stream. With `recheck`, the caller's access is checked again every
 * REAUTHORIZE_MS (the token may have been revoked, the role taken away): when it fails the stream
 * sends `event: error` with the catalogue body and ends, within 5 s of the change.
 */
export function open(reply: FastifyReply, recheck?: () => Promise<unknown>): Sse {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'x-request-id': reply.request.id,
    'x-accel-buffering': 'no',
  });
  res.write('retry: 1000\n\n'); // reconnect within a second after a dropped connection
  let closed = false;
  const timer = recheck
    ? setInterval(() => {
        recheck().catch((error: unknown) => {
          if (closed) return;
          const { body } = toErrorBody(error, reply.request.id);
          res.write(`event: error\ndata: ${JSON.stringify(body)}\n\n`);
          res.end();
          closed = true;
        });
      }, REAUTHORIZE_MS)
    : undefined;
  timer?.unref();
  res.on('close', () => {
    closed = true;
    clearInterval(timer);
  });
  const sendJson = (event: string, json: string, id?: string) => {
    if (!closed) res.write(`${id !== undefined ? `id: ${id}\n` : ''}event: ${event}\ndata: ${json}\n\n`);
  };
  return {
    send: (event, data, id) => sendJson(event, JSON.stringify(data), id),
    sendJson,
    drained: () =>
      closed || !res.writableNeedDrain
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            const go = () => {
              res.off('drain', go);
              res.off('close', go);
              resolve();
            };
            res.on('drain', go);
            res.on('close', go);
          }),
    closed: () => closed,
    end: () => {
      if (!closed) res.end();
      closed = true;
      clearInterval(timer);
    },
  };
}

/** A recheck for `open`: authenticates the request again (token revoked?), then runs `authorize`. */
export function reauthorize(
  ctx: ServerContext,
  request: FastifyRequest,
  authorize: () => Promise<unknown>,
): () => Promise<unknown> {
  return async () => {
    request.principal = await authenticateRequest(ctx, request);
    return authorize();
  };
}

/** Calls `check` now, on each event of the run (coalesced), and every `events.backstopMs`, until it returns true. */
async function follow(
  events: RunEvents,
  sse: Sse,
  runId: string,
  check: () => Promise<boolean>,
): Promise<void> {
  let wake: () => void = () => undefined;
  const state = { pending: false, lastEvent: 0 };
  const unsubscribe = events.subscribe(runId, () => {
    state.pending = true;
    state.lastEvent = Date.now();
    wake();
  });
  try {
    while (!sse.closed()) {
      state.pending = false;
      if (await check()) break;
      if (state.pending) continue;
      // The engine announces a change a moment before its batched write (FLUSH_DELAY_MS) lands
      // in the store: shortly after an event, look again soon instead of at the next poll.
      const soon = Date.now() - state.lastEvent < AFTER_EVENT_MS;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, soon ? RECHECK_MS : events.backstopMs);
        wake = () => {
          clearTimeout(timer);
          setTimeout(resolve, 10); // let a burst of events land before re-reading
        };
      });
      wake = () => undefined;
    }
  } finally {
    unsubscribe();
    sse.end();
  }
}
