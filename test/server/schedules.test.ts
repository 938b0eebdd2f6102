import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dueSlot } from '../../src/app/schedule-slots.js';
import { waitFor } from '../helpers/cli.js';
import { tempDir, tempRepo } from '../helpers/repo.js';
import { registerRepo, startTestServer, type TestServer } from '../helpers/server.js';

const HOUR = 3_600_000;

describe('schedule slots', () => {
  const at = (iso: string) => Date.parse(iso);
  const table: [string, { cron?: string; intervalMs?: number }, string, string | undefined][] = [
    ['hourly cron, mid-hour', { cron: '0 * * * *' }, '2026-03-01T10:30:00Z', '2026-03-01T10:00:00Z'],
    ['hourly cron, on the hour', { cron: '0 * * * *' }, '2026-03-01T10:00:00Z', '2026-03-01T10:00:00Z'],
    ['daily at 03:42 UTC, before it', { cron: '42 3 * * *' }, '2026-03-01T03:41:59Z', '2026-02-28T03:42:00Z'],
    ['mondays 06:00', { cron: '0 6 * * 1' }, '2026-03-04T12:00:00Z', '2026-03-02T06:00:00Z'],
    ['every 30 minutes', { intervalMs: 30 * 60_000 }, '2026-03-01T10:45:10Z', '2026-03-01T10:30:00Z'],
    ['no timing at all', {}, '2026-03-01T10:45:10Z', undefined],
  ];
  for (const [name, timing, now, expected] of table) {
    it(name, () => {
      const slot = dueSlot({ workflows: ['w'], ...timing }, at(now));
      assert.equal(
        slot === undefined ? undefined : new Date(slot).toISOString().replace('.000Z', 'Z'),
        expected,
      );
    });
  }
});

describe('schedules on a server', () => {
  it('fire once per slot, not again after a restart, and again in the next slot', async () => {
    const repoDir = tempRepo({
      '.conveyor/ci.yaml':
        'on:\n  schedule:\n    - workflows: [nightly]\n      interval: 1h\nworkflows:\n  nightly:\n    tasks: [{name: t, cubes: [{name: c, script: ["echo $SOURCECRAFT_EVENT"]}]}]\n',
    });
    const dataDir = tempDir('conveyor-schedule-');
    const runs = async (t: Awaited<ReturnType<typeof startTestServer>>) =>
      (
        await t.api<{ runs: { slug: string; trigger: string; status: string }[] }>(
          'GET',
          '/repos/acme/app/cicd/runs?page_size=100',
        )
      ).body.runs;
    // Half an hour before the next hour: registering then makes the current slot history.
    const nextHour = Math.ceil(Date.now() / HOUR) * HOUR + HOUR;
    const servers: TestServer[] = [];
    try {
      const first = await startTestServer({ dataDir, offsetMs: nextHour - HOUR / 2 - Date.now() });
      servers.push(first);
      await registerRepo(first, repoDir);
      await new Promise((r) => setTimeout(r, 500));
      assert.equal((await runs(first)).length, 0, 'the slot that began before registration does not fire');
      first.clock.offsetMs = nextHour + 1000 - Date.now(); // just past the hour
      const fired = await waitFor(
        async () => {
          const list = await runs(first);
          return list.length > 0 ? list : undefined;
        },
        'the scheduled run',
        30_000,
      );
      assert.equal(fired[0]?.trigger, 'schedule');
      await new Promise((r) => setTimeout(r, 500)); // several ticks of the loop
      assert.equal((await runs(first)).length, 1, 'one slot, one run');
      const logs = await waitFor(
        async () => {
          const got = await first.api<{ logs: string; done: boolean }>(
            'GET',
            `/repos/acme/app/cicd/logs/${fired[0]?.slug}/nightly/t/c`,
          );
          return got.body.done ? got.body.logs : undefined;
        },
        'the run to end',
        30_000,
      );
      assert.match(logs, /^schedule$/m, 'SOURCECRAFT_EVENT says schedule');
      const offset = first.clock.offsetMs;
      await first.close();

      const second = await startTestServer({ dataDir, offsetMs: offset });
      servers.push(second);
      await new Promise((r) => setTimeout(r, 500));
      assert.equal((await runs(second)).length, 1, 'a restart does not fire the same slot again');
      second.clock.offsetMs += HOUR;
      await waitFor(
        async () => ((await runs(second)).length === 2 ? true : undefined),
        'the next slot',
        30_000,
      );
      await new Promise((r) => setTimeout(r, 400));
      assert.equal((await runs(second)).length, 2);
    } finally {
      for (const server of servers) await server.close();
    }
  });
});
