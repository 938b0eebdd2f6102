/**
 * A run in the API's JSON shape with `cubes` cubes over 3 workflows (about 8 cubes a task), tasks
 * needing one or two earlier tasks and cubes needing the cube before them: the shape of the
 * research's "300-cube run" for layout tests and benchmarks.
 */
export function syntheticRun(cubes: number, status: (i: number) => string = () => 'success') {
  const perTask = 8;
  const tasksTotal = Math.ceil(cubes / perTask);
  let made = 0;
  let seed = 7;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const dates = {
    created_at: '2026-12-01T00:00:00.000Z',
    started_at: '2026-12-01T00:00:01.000Z',
    finished_at: '2026-12-01T00:00:09.000Z',
  };
  const workflows = [0, 1, 2].map((w) => {
    const count = Math.floor(tasksTotal / 3) + (w < tasksTotal % 3 ? 1 : 0);
    const tasks = Array.from({ length: count }, (_, t) => {
      const needs =
        t === 0
          ? []
          : [Math.floor(random() * t), ...(t > 2 && random() < 0.5 ? [Math.floor(random() * t)] : [])];
      const n = Math.min(perTask, cubes - made);
      const taskCubes = Array.from({ length: Math.max(0, n) }, (_, c) => ({
        id: `c${w}-${t}-${c}`,
        slug: `cube-${c}`,
        dates,
        status: status(made + c),
        artifacts: [],
        relations: { needs: c > 0 && c % 3 !== 0 ? [{ name: `cube-${c - 1}` }] : [] },
        allow_failure: false,
        outputs: {},
      }));
      made += Math.max(0, n);
      return {
        id: `t${w}-${t}`,
        slug: `task-${t}`,
        description: '',
        dates,
        status: 'success',
        cubes: taskCubes,
        progress: { percent: 100 },
        relations: { needs: [...new Set(needs)].map((i) => ({ name: `task-${i}` })) },
        outputs: {},
      };
    });
    return {
      id: `w${w}`,
      slug: `flow-${w}`,
      description: '',
      dates,
      status: 'success',
      tasks,
      progress: { percent: 100 },
    };
  });
  return {
    id: 'run-1',
    slug: '1',
    dates,
    status: 'success',
    workflows,
    event_type: 'manual',
    error_messages: [],
    user: { id: 'u', slug: 'admin' },
    commit: { sha: 'a'.repeat(40), ref: 'refs/heads/main', message: 'synthetic' },
    trigger: 'api',
  };
}
