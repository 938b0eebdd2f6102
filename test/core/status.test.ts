import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  IllegalTransitionError,
  isTerminal,
  nextCubeStatus,
  rollUp,
  RUN_STATUSES,
  satisfiesDependents,
  type NodeEvent,
  type RunStatus,
} from '../../src/core/run/status.js';

const CHILD_STATUSES: RunStatus[] = ['created', 'processing', 'success', 'failed', 'canceled', 'timeout'];

/** The documented rule, written independently as a reference (docs/run-semantics.md). */
function expected(children: { status: RunStatus; allowFailure: boolean }[]): RunStatus {
  const eff = children.map((c) =>
    c.allowFailure && (c.status === 'failed' || c.status === 'timeout') ? 'success' : c.status,
  );
  if (eff.some((s) => !isTerminal(s))) return eff.every((s) => s === 'created') ? 'created' : 'processing';
  if (eff.includes('failed')) return 'failed';
  if (eff.includes('timeout')) return 'timeout';
  if (eff.includes('canceled')) return 'canceled';
  return 'success';
}

describe('status roll-up', () => {
  it('matches the rule for every pair of child states, with and without allow_failure', () => {
    let cases = 0;
    for (const a of CHILD_STATUSES) {
      for (const b of CHILD_STATUSES) {
        for (const af of [false, true]) {
          const children = [
            { status: a, allowFailure: af },
            { status: b, allowFailure: false },
          ];
          assert.equal(rollUp(children), expected(children), JSON.stringify(children));
          cases++;
        }
      }
    }
    assert.equal(cases, 72);
  });

  const table: [string, { status: RunStatus; allowFailure?: boolean }[], RunStatus][] = [
    ['all created', [{ status: 'created' }, { status: 'created' }], 'created'],
    ['one running', [{ status: 'processing' }, { status: 'created' }], 'processing'],
    ['some done, some waiting', [{ status: 'success' }, { status: 'created' }], 'processing'],
    ['all success', [{ status: 'success' }, { status: 'success' }], 'success'],
    ['failed beats timeout', [{ status: 'timeout' }, { status: 'failed' }], 'failed'],
    ['failed beats canceled', [{ status: 'canceled' }, { status: 'failed' }], 'failed'],
    ['timeout beats canceled', [{ status: 'canceled' }, { status: 'timeout' }], 'timeout'],
    ['canceled beats success', [{ status: 'success' }, { status: 'canceled' }], 'canceled'],
    [
      'allowed failure counts as success',
      [{ status: 'failed', allowFailure: true }, { status: 'success' }],
      'success',
    ],
    ['allowed timeout counts as success', [{ status: 'timeout', allowFailure: true }], 'success'],
    ['allow_failure does not hide cancel', [{ status: 'canceled', allowFailure: true }], 'canceled'],
    [
      'allowed failure with a real failure',
      [{ status: 'failed', allowFailure: true }, { status: 'failed' }],
      'failed',
    ],
    ['no children', [], 'success'],
  ];
  for (const [name, children, status] of table) {
    it(name, () => assert.equal(rollUp(children), status));
  }

  it('is independent of child order (property)', () => {
    const child = fc.record({ status: fc.constantFrom(...CHILD_STATUSES), allowFailure: fc.boolean() });
    fc.assert(
      fc.property(fc.array(child, { maxLength: 12 }), (children) => {
        assert.equal(rollUp(children), rollUp([...children].reverse()));
        assert.equal(rollUp(children), expected(children));
      }),
    );
  });

  it('never yields prepared', () => {
    const child = fc.record({ status: fc.constantFrom(...CHILD_STATUSES), allowFailure: fc.boolean() });
    fc.assert(fc.property(fc.array(child), (children) => assert.notEqual(rollUp(children), 'prepared')));
  });

  it('lets dependents run only after success or a tolerated failure', () => {
    assert.equal(satisfiesDependents({ status: 'success' }), true);
    assert.equal(satisfiesDependents({ status: 'failed', allowFailure: true }), true);
    assert.equal(satisfiesDependents({ status: 'timeout', allowFailure: true }), true);
    assert.equal(satisfiesDependents({ status: 'failed' }), false);
    assert.equal(satisfiesDependents({ status: 'canceled', allowFailure: true }), false);
  });
});

describe('cube state machine', () => {
  const events: NodeEvent[] = [
    { type: 'start' },
    { type: 'exit', code: 0 },
    { type: 'exit', code: 2 },
    { type: 'timeout' },
    { type: 'cancel' },
    { type: 'dependency-failed' },
    { type: 'error' },
  ];
  const label = (e: NodeEvent) => (e.type === 'exit' ? `exit(${e.code})` : e.type);
  // Every (status, event) pair: the next status, or 'illegal'.
  const table: Record<RunStatus, Record<string, RunStatus | 'illegal'>> = {
    created: {
      start: 'processing',
      'exit(0)': 'illegal',
      'exit(2)': 'illegal',
      timeout: 'illegal',
      cancel: 'canceled',
      'dependency-failed': 'canceled',
      error: 'failed',
    },
    prepared: {
      start: 'illegal',
      'exit(0)': 'illegal',
      'exit(2)': 'illegal',
      timeout: 'illegal',
      cancel: 'canceled',
      'dependency-failed': 'illegal',
      error: 'illegal',
    },
    processing: {
      start: 'illegal',
      'exit(0)': 'success',
      'exit(2)': 'failed',
      timeout: 'timeout',
      cancel: 'canceled',
      'dependency-failed': 'illegal',
      error: 'failed',
    },
    success: {
      start: 'illegal',
      'exit(0)': 'illegal',
      'exit(2)': 'illegal',
      timeout: 'illegal',
      cancel: 'illegal',
      'dependency-failed': 'illegal',
      error: 'illegal',
    },
    failed: {
      start: 'illegal',
      'exit(0)': 'illegal',
      'exit(2)': 'illegal',
      timeout: 'illegal',
      cancel: 'illegal',
      'dependency-failed': 'illegal',
      error: 'illegal',
    },
    canceled: {
      start: 'illegal',
      'exit(0)': 'illegal',
      'exit(2)': 'illegal',
      timeout: 'illegal',
      cancel: 'illegal',
      'dependency-failed': 'illegal',
      error: 'illegal',
    },
    timeout: {
      start: 'illegal',
      'exit(0)': 'illegal',
      'exit(2)': 'illegal',
      timeout: 'illegal',
      cancel: 'illegal',
      'dependency-failed': 'illegal',
      error: 'illegal',
    },
  };
  for (const from of RUN_STATUSES) {
    for (const event of events) {
      const want = table[from][label(event)];
      it(`${from} + ${label(event)} -> ${want}`, () => {
        if (want === 'illegal') assert.throws(() => nextCubeStatus(from, event), IllegalTransitionError);
        else assert.equal(nextCubeStatus(from, event), want);
      });
    }
  }
});
