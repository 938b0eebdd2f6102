import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  IllegalJobTransition,
  JOB_STATUSES,
  approvalSatisfied,
  bumpVersion,
  isJobFinished,
  nextJobStatus,
  runStatusOf,
  type JobEvent,
  type JobStatus,
} from '../../src/core/deploy/state.js';

const EVENTS: JobEvent[] = [
  { type: 'start', needsReview: false },
  { type: 'start', needsReview: true },
  { type: 'approve', satisfied: false },
  { type: 'approve', satisfied: true },
  { type: 'reject' },
  { type: 'approval-timeout' },
  { type: 'deploy-succeeded' },
  { type: 'deploy-failed' },
  { type: 'cancel' },
];

const label = (e: JobEvent) =>
  `${e.type}${'needsReview' in e ? `(review=${e.needsReview})` : ''}${'satisfied' in e ? `(satisfied=${e.satisfied})` : ''}`;

/** Every status x every event: the next status, or '-' where the transition is refused. */
const TABLE: Record<JobStatus, string[]> = {
  //             start  start(r)  approve  approve(ok)  reject      timeout     succeeded    failed     cancel
  not_started: ['in_progress', 'waiting', '-', '-', '-', '-', '-', '-', 'cancelled'],
  waiting: ['-', '-', 'waiting', 'in_progress', 'rejected', 'rejected', '-', '-', 'cancelled'],
  in_progress: ['-', '-', '-', '-', '-', '-', 'completed', 'failure', 'cancelled'],
  completed: ['-', '-', '-', '-', '-', '-', '-', '-', '-'],
  failure: ['-', '-', '-', '-', '-', '-', '-', '-', '-'],
  rejected: ['-', '-', '-', '-', '-', '-', '-', '-', '-'],
  cancelled: ['-', '-', '-', '-', '-', '-', '-', '-', '-'],
};

describe('deployment job state machine: every status x every event', () => {
  for (const from of JOB_STATUSES) {
    EVENTS.forEach((event, i) => {
      const expected = TABLE[from][i];
      it(`${from} + ${label(event)} -> ${expected}`, () => {
        if (expected === '-') assert.throws(() => nextJobStatus(from, event), IllegalJobTransition);
        else assert.equal(nextJobStatus(from, event), expected);
      });
    });
  }

  it('a finished job takes no event', () => {
    for (const from of JOB_STATUSES.filter(isJobFinished))
      for (const event of EVENTS) assert.throws(() => nextJobStatus(from, event), IllegalJobTransition);
  });
});

describe('deployment run status', () => {
  const jobs = (...s: JobStatus[]) => s.map((status) => ({ status }));
  const table: [JobStatus[], boolean, string][] = [
    [['in_progress', 'not_started'], false, 'in_progress'],
    [['completed', 'waiting', 'not_started'], false, 'waiting'],
    [['completed', 'rejected', 'not_started'], false, 'failure'],
    [['completed', 'failure', 'not_started'], false, 'failure'],
    [['completed', 'completed'], false, 'completed'],
    [['completed', 'cancelled', 'not_started'], true, 'cancelled'],
    [['waiting'], true, 'cancelled'],
    [[], false, 'completed'],
  ];
  for (const [statuses, cancelled, expected] of table) {
    it(`${statuses.join(', ') || 'no jobs'}${cancelled ? ' (cancelled)' : ''} -> ${expected}`, () => {
      assert.equal(runStatusOf(jobs(...statuses), cancelled), expected);
    });
  }

  it('a failed or rejected job always makes the run fail unless it was cancelled', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(...JOB_STATUSES)),
        fc.constantFrom<JobStatus>('failure', 'rejected'),
        (others, bad) => {
          assert.equal(runStatusOf(jobs(...others, bad), false), 'failure');
        },
      ),
    );
  });
});

describe('approvals and versions', () => {
  it('require_any needs one approval; require_one_per_team one per listed group', () => {
    assert.equal(approvalSatisfied('require_any', ['qa', 'ops'], []), false);
    assert.equal(approvalSatisfied('require_any', ['qa', 'ops'], [['qa']]), true);
    assert.equal(approvalSatisfied('require_one_per_team', ['qa', 'ops'], [['qa']]), false);
    assert.equal(approvalSatisfied('require_one_per_team', ['qa', 'ops'], [['qa'], ['qa', 'dev']]), false);
    assert.equal(approvalSatisfied('require_one_per_team', ['qa', 'ops'], [['qa'], ['ops']]), true);
    assert.equal(approvalSatisfied('require_one_per_team', ['qa', 'ops'], [['qa', 'ops']]), true);
  });
  it('bumps semantic versions', () => {
    assert.equal(bumpVersion(undefined, 'patch'), '0.0.1');
    assert.equal(bumpVersion('1.2.3', 'patch'), '1.2.4');
    assert.equal(bumpVersion('1.2.3', 'minor'), '1.3.0');
    assert.equal(bumpVersion('1.2.3', 'major'), '2.0.0');
  });
});
