import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { ImageBuilder } from '../ports/action-source.js';

export interface ImageBuilderOptions {
  /** `podman` or `docker`. */
  runtime: string;
  /** Extra `build` flags for this host, e.g. `--runtime runc` (CONVEYOR_CONTAINER_BUILD_ARGS). */
  buildArgs: string[];
}

/** Docker actions' images, built with `<runtime> build` once per action commit (the tag says which). */
export class ContainerImageBuilder implements ImageBuilder {
  private readonly building = new Map<string, Promise<{ built: boolean; error?: string }>>();

  constructor(private readonly options: ImageBuilderOptions) {}

  async ensure(
    tag: string,
    contextDir: string,
    dockerfile: string,
    onOutput: (chunk: Buffer) => void,
  ): Promise<{ built: boolean; error?: string }> {
    if ((await this.run(['image', 'inspect', '--format', '{{.Id}}', tag], () => undefined)) === 0)
      return { built: false };
    const running = this.building.get(tag);
    if (running) return running;
    const args = [
      'build',
      ...this.options.buildArgs,
      '-t',
      tag,
      '-f',
      join(contextDir, dockerfile),
      contextDir,
    ];
    const job = this.run(args, onOutput)
      .then((code) =>
        code === 0
          ? { built: true }
          : { built: false, error: `${this.options.runtime} build exited with code ${code ?? 'unknown'}` },
      )
      .finally(() => this.building.delete(tag));
    this.building.set(tag, job);
    return job;
  }

  private run(args: string[], onOutput: (chunk: Buffer) => void): Promise<number | null> {
    return new Promise((resolve) => {
      const child = spawn(this.options.runtime, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout.on('data', onOutput);
      child.stderr.on('data', onOutput);
      child.on('error', (error) => {
        onOutput(Buffer.from(`${this.options.runtime}: ${error.message}\n`));
        resolve(null);
      });
      child.on('close', (code) => resolve(code));
    });
  }
}
