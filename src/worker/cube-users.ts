import { DEFAULT_CUBE_USER, ensureUser, type CubeUser } from '../executors/cube-sandbox.js';

/**
 * The users native cubes run as on a worker started as root: one per slot,
 * `<CONVEYOR_CUBE_USER>-1` … `-N` (default `conveyor-cube-1` …), created if missing. A slot's user
 * runs one task at a time, so two tasks running at once never share a user: neither can read the
 * other's workspace, /proc/<pid>/environ or memory. A worker that is not root runs cubes as itself
 * (`users` is empty and `take` answers undefined).
 */
export class CubeUsers {
  private readonly free: CubeUser[];

  private constructor(readonly users: CubeUser[]) {
    this.free = [...users];
  }

  static forSlots(slots: number, env: NodeJS.ProcessEnv): CubeUsers {
    if (process.getuid?.() !== 0) return new CubeUsers([]);
    const base = env.CONVEYOR_CUBE_USER || DEFAULT_CUBE_USER;
    return new CubeUsers(Array.from({ length: slots }, (_, i) => ensureUserRetrying(`${base}-${i + 1}`)));
  }

  /** A free slot user for a task (undefined when cubes run as the worker's own user). */
  take(): CubeUser | undefined {
    return this.free.shift();
  }

  give(user: CubeUser | undefined): void {
    if (user) this.free.push(user);
  }
}

/** useradd fails while another useradd (another worker starting) holds /etc/passwd: try again. */
function ensureUserRetrying(name: string): CubeUser {
  for (let attempt = 1; ; attempt++) {
    try {
      return ensureUser(name);
    } catch (error) {
      if (attempt >= 20 || !String(error).includes('could not create')) throw error;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50 * attempt);
    }
  }
}
