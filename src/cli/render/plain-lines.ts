import type { EngineListener, NodeKind } from '../../app/run-engine.js';
import type { RunRecord } from '../../core/run/model.js';
import type { RunStatus } from '../../core/run/status.js';

/** Without a terminal: one line per state change, easy to grep and to read in CI logs. */
export class PlainLines implements EngineListener {
  constructor(private readonly out: NodeJS.WritableStream) {}

  onStatus(kind: NodeKind, path: string[], status: RunStatus, run: RunRecord): void {
    const time = new Date().toISOString().slice(11, 19);
    const name = kind === 'run' ? `run ${run.slug}` : `${kind} ${path.join('/')}`;
    let detail = '';
    if (kind === 'cube') {
      const cube = run.workflows
        .find((w) => w.slug === path[0])
        ?.tasks.find((t) => t.slug === path[1])
        ?.cubes.find((c) => c.slug === path[2]);
      if (cube?.errorMessage && status !== 'processing') detail = ` (${cube.errorMessage})`;
    }
    this.out.write(`${time} ${name}: ${status}${detail}\n`);
  }
}
