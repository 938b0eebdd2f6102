/** Variables of the worker's own environment that cubes may see; everything else is dropped. */
const KEPT =
  /^(PATH|HOME|LANG|LANGUAGE|LC_[A-Z]+|TZ|TMPDIR|USER|LOGNAME|SHELL|TERM|CONVEYOR_CONTAINER_[A-Z_]+|CONVEYOR_LAUNCHER)$/;

/**
 * The environment the worker's executors hand to cubes, built from scratch out of the worker's
 * own: the worker token and anything else the worker was started with stay out of cubes.
 * This is the one place to switch to the shared cube sandbox (executors/cube-sandbox.ts) once it
 * exists, so the server and the worker build a cube's environment the same way.
 */
export function cubeBaseEnvironment(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(env))
    if (KEPT.test(name) && value !== undefined) out[name] = value;
  return out;
}
