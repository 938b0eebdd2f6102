/** A signed-in browser session of the web UI. */
export interface UiSession {
  tokenHash: string;
  userId: string;
  /** The personal access token the session was exchanged for. */
  tokenId: string;
  createdAt: number;
  expiresAt: number;
}

/**
 * Web UI sessions, keyed by the hash of the cookie's value (the value itself is never stored).
 * Every method may be called concurrently; `delete*` of a missing session is not an error.
 */
export interface SessionStore {
  insertSession(session: UiSession): Promise<void>;
  findSession(tokenHash: string): Promise<UiSession | undefined>;
  deleteSession(tokenHash: string): Promise<void>;
  /** Drops sessions that expired before `now`; returns how many. */
  deleteExpired(now: number): Promise<number>;
}
