/**
 * Work that one replica at a time must do (schedules, repository polling): whoever holds the lock
 * does it.
 *
 * Contract: `hold` is called before each round of that work; it keeps the lock if this process has
 * it and its link to the lock is alive, else tries once to take it, and resolves false (never
 * throws) when it has not got it. A holder that dies loses the lock by itself, so another replica's
 * next `hold` gets it. `release` gives it up (a clean shutdown hands over at once).
 */
export interface LeaderLock {
  hold(): Promise<boolean>;
  release(): Promise<void>;
}

/** One server on its own database (SQLite): always the holder. */
export const soleReplica: LeaderLock = {
  hold: () => Promise.resolve(true),
  release: () => Promise.resolve(),
};
