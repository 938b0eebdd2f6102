import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';
import { formatDuration } from '../core/config/duration.js';
import type { RunRecord } from '../core/run/model.js';
import type { Repo } from '../ports/directory-store.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export type LogFormat = 'text' | 'json';

/**
 * What the server tells its operator, through Fastify's logger (pino): one line per run started
 * and ended, webhook received, push skipped and worker joined, plus the server's own notes.
 * `json` prints pino's lines as they are (for log collectors); `text` prints `time LEVEL message`.
 */
export interface OperatorLog {
  logger: Logger;
  /** A free-form note at info level (what `ServerConfig.log` used to print). */
  note(message: string): void;
  runStarted(repo: Repo, run: RunRecord): void;
  runEnded(repo: Repo | undefined, run: RunRecord): void;
  webhookReceived(repo: string, provider: string, event: string, outcome: string): void;
  pushSkipped(repo: Repo, ref: string, sha: string, reason: string): void;
  /** A worker (the embedded one, or a remote agent) began taking runs. */
  workerJoined(name: string, detail: string): void;
}

const LEVEL_NAMES: Record<number, string> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
};

/** pino's JSON lines as `2026-12-01T10:00:00.000Z INFO  message`, for a person reading the terminal. */
function textStream(out: NodeJS.WritableStream): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line) continue;
        try {
          const entry = JSON.parse(line) as {
            time?: number;
            level?: number;
            msg?: string;
            err?: { stack?: string };
          };
          const level = (LEVEL_NAMES[entry.level ?? 30] ?? 'INFO').padEnd(5);
          const err = entry.err?.stack ? `\n${entry.err.stack}` : '';
          out.write(
            `${new Date(entry.time ?? Date.now()).toISOString()} ${level} ${entry.msg ?? ''}${err}\n`,
          );
        } catch {
          out.write(`${line}\n`);
        }
      }
      done();
    },
  });
}

export function createOperatorLog(
  options: { level?: LogLevel; format?: LogFormat; out?: NodeJS.WritableStream } = {},
): OperatorLog {
  const out = options.out ?? process.stderr;
  const destination = options.format === 'json' ? out : textStream(out);
  const logger = pino(
    { level: options.level ?? 'info', base: undefined },
    destination as pino.DestinationStream,
  );
  const name = (repo: Repo | undefined) => (repo ? `${repo.orgSlug}/${repo.slug}` : 'a repository');
  return {
    logger,
    note: (message) => logger.info(message),
    runStarted(repo, run) {
      const head = run.context.commit;
      const ref = head?.ref?.replace(/^refs\/(heads|tags)\//, '') ?? '';
      logger.info(
        {
          event: 'run_started',
          repo: name(repo),
          run: run.slug,
          trigger: run.context.trigger,
          sha: head?.sha,
        },
        `run ${name(repo)}#${run.slug} started: ${run.eventType}${ref ? ` of ${ref}` : ''}${head?.sha ? ` at ${head.sha.slice(0, 7)}` : ''} (${run.workflows.map((w) => w.slug).join(', ')})`,
      );
    },
    runEnded(repo, run) {
      const took =
        run.dates.startedAt !== undefined && run.dates.finishedAt !== undefined
          ? ` in ${formatDuration(run.dates.finishedAt - run.dates.startedAt)}`
          : '';
      const why = run.errorMessages.length ? `: ${run.errorMessages.join('; ')}` : '';
      const level = run.status === 'success' ? 'info' : 'warn';
      logger[level](
        { event: 'run_ended', repo: name(repo), run: run.slug, status: run.status },
        `run ${name(repo)}#${run.slug} ${run.status}${took}${why}`,
      );
    },
    webhookReceived(repo, provider, event, outcome) {
      logger.info(
        { event: 'webhook_received', repo, provider, webhook_event: event },
        `${provider} webhook '${event}' for ${repo}: ${outcome}`,
      );
    },
    pushSkipped(repo, ref, sha, reason) {
      logger.info(
        { event: 'push_skipped', repo: name(repo), ref, sha },
        `${name(repo)}: push to ${ref.replace(/^refs\/(heads|tags)\//, '')} at ${sha.slice(0, 7)}: ${reason}, skipped`,
      );
    },
    workerJoined(worker, detail) {
      logger.info({ event: 'worker_joined', worker }, `worker ${worker} joined (${detail})`);
    },
  };
}
