import { CronExpressionParser } from 'cron-parser';
import type { ScheduleRule } from '../core/config/model.js';

/**
 * The slot a schedule rule is due for at `now`: the start (epoch ms) of the latest period that has
 * begun, or undefined when none has. Cron is read in UTC; intervals are aligned to the epoch, so every
 * replica computes the same slots and the store can make each slot fire once.
 */
export function dueSlot(rule: ScheduleRule, now: number): number | undefined {
  if (rule.intervalMs !== undefined && rule.intervalMs > 0)
    return Math.floor(now / rule.intervalMs) * rule.intervalMs;
  if (rule.cron === undefined) return undefined;
  try {
    const expression = CronExpressionParser.parse(rule.cron, { currentDate: new Date(now + 1), tz: 'UTC' });
    return expression.prev().getTime();
  } catch {
    return undefined;
  }
}

/** A stable key of a rule inside its config, so a slot is remembered per rule. */
export function scheduleKey(rule: ScheduleRule): string {
  return `${rule.cron ?? `every ${rule.intervalMs}ms`}:${[...rule.workflows].sort().join(',')}`;
}
