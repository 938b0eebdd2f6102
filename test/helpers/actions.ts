import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { tempDir, writeFiles } from './repo.js';

/**
 * A local stand-in for github.com: `<root>/<owner>/<repo>` git repositories of actions, served to
 * Conveyor through CONVEYOR_ACTIONS_URL=file://<root> (github.com cannot be reached here).
 */
export class ActionHost {
  readonly root = tempDir('conveyor-actions-');

  get url(): string {
    return pathToFileURL(this.root).href;
  }

  /** Commits `files` to `owner/repo` (created if new) and points each of `tags` at the commit. */
  publish(name: string, files: Record<string, string>, tags: string[] = []): string {
    const dir = join(this.root, name);
    const git = (...args: string[]) =>
      execFileSync('git', ['-c', 'user.name=Action', '-c', 'user.email=a@example.com', ...args], {
        cwd: dir,
        encoding: 'utf8',
      }).trim();
    execFileSync('mkdir', ['-p', dir]);
    execFileSync('git', ['init', '-q', '-b', 'main', dir]);
    writeFiles(dir, files);
    git('add', '-A');
    git('commit', '-qm', `publish ${Object.keys(files).join(', ')}`);
    for (const tag of tags) git('tag', '-f', tag);
    return git('rev-parse', 'HEAD');
  }
}
