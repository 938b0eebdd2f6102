/** The time source of use cases; events carry the time taken here so the core never reads a clock. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
