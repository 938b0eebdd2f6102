/** Variables of the worker's own environment that cubes may see; everything else is dropped. */
const KEPT =
  /^(PATH|HOME|LANG|LANGUAGE|LC_[A-Z]+|TZ|TMPDIR|USER|LOGNAME|SHELL|TERM|CONVEYOR_CONTAINER_[A-Z_]+|CONVEYOR_LAUNCHER|CONVEYOR_PASS_ENV|CONVEYOR_DRAIN_MS|CONVEYOR_ACTIONS_URL|CONVEYOR_CUBE_USER|CONVEYOR_WORKER_CONTAINMENT)$/;

/**
 * What the worker process keeps of the environment it was started with (the token is dropped
 * before anything else starts). Cubes get less still: their environment is built from scratch by
 * the same CubeSandbox as the server's (worker.ts).
 */
export function cubeBaseEnvironment(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  const passed = new Set((env.CONVEYOR_PASS_ENV ?? '').split(/[\s,]+/).filter(Boolean));
  for (const [name, value] of Object.entries(env))
    if ((KEPT.test(name) || passed.has(name)) && value !== undefined) out[name] = value;
  return out;
}
