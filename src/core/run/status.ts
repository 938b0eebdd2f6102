import { assertNever } from '../assert-never.js';

/** `Run.Status` of the SourceCraft API; the same enum is used on runs, workflows, tasks and cubes. */
export const RUN_STATUSES = [
  'created',
  'prepared',
  'processing',
  'success',
  'failed',
  'canceled',
  'timeout',
] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

export type TerminalStatus = 'success' | 'failed' | 'canceled' | 'timeout';

export function isTerminal(status: RunStatus): status is TerminalStatus {
  switch (status) {
    case 'success':
    case 'failed':
    case 'canceled':
    case 'timeout':
      return true;
    case 'created':
    case 'prepared':
    case 'processing':
      return false;
    default:
      return assertNever(status);
  }
}

/** A child as the roll-up sees it: its status and whether its failure is tolerated (`allow_failure`). */
export interface RollUpChild {
  status: RunStatus;
  allowFailure?: boolean;
}

/**
 * The one merge rule for a parent's status (docs/run-semantics.md, "Roll-up").
 *
 * While any child is unfinished the parent is `created` (nothing started) or `processing`.
 * Once all children are terminal: `failed` if any child failed, else `timeout` if any timed out,
 * else `canceled` if any was canceled, else `success`. A child with `allowFailure` whose own
 * status is `failed` or `timeout` counts as a success.
 */
export function rollUp(children: readonly RollUpChild[]): RunStatus {
  let anyStarted = false;
  let allTerminal = true;
  let failed = false;
  let timedOut = false;
  let canceled = false;
  for (const child of children) {
    const status = effectiveStatus(child);
    if (status !== 'created') anyStarted = true;
    if (!isTerminal(status)) {
      allTerminal = false;
      continue;
    }
    if (status === 'failed') failed = true;
    else if (status === 'timeout') timedOut = true;
    else if (status === 'canceled') canceled = true;
  }
  if (!allTerminal) return anyStarted ? 'processing' : 'created';
  if (failed) return 'failed';
  if (timedOut) return 'timeout';
  if (canceled) return 'canceled';
  return 'success';
}

function effectiveStatus(child: RollUpChild): RunStatus {
  if (child.allowFailure && (child.status === 'failed' || child.status === 'timeout')) return 'success';
  return child.status;
}

/**
 * Whether a finished dependency lets its dependents start: it succeeded, or it is an
 * `allow_failure` cube whose failure is tolerated.
 */
export function satisfiesDependents(child: RollUpChild): boolean {
  return effectiveStatus(child) === 'success';
}

/** Events that move a cube (or a task) through its life. */
export type NodeEvent =
  | { type: 'start' }
  | { type: 'exit'; code: number }
  | { type: 'timeout' }
  | { type: 'cancel' }
  | { type: 'dependency-failed' }
  | { type: 'error' };

export class IllegalTransitionError extends Error {
  constructor(
    readonly from: RunStatus,
    readonly event: NodeEvent['type'],
  ) {
    super(`illegal transition: ${event} from ${from}`);
  }
}

/**
 * The cube state machine. `created -> processing -> success|failed|timeout|canceled`;
 * a cube that never started ends `canceled` (cancel, or a dependency that did not succeed).
 */
export function nextCubeStatus(from: RunStatus, event: NodeEvent): RunStatus {
  switch (event.type) {
    case 'start':
      if (from === 'created') return 'processing';
      break;
    case 'exit':
      if (from === 'processing') return event.code === 0 ? 'success' : 'failed';
      break;
    case 'timeout':
      if (from === 'processing') return 'timeout';
      break;
    case 'error':
      if (from === 'created' || from === 'processing') return 'failed';
      break;
    case 'cancel':
      if (!isTerminal(from)) return 'canceled';
      break;
    case 'dependency-failed':
      if (from === 'created') return 'canceled';
      break;
    default:
      return assertNever(event);
  }
  throw new IllegalTransitionError(from, event.type);
}
