import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { CommitInfo } from '../core/run/model.js';

const run = promisify(execFile);

/** Runs git and returns stdout; the thrown error carries git's own message. */
export async function git(args: string[], cwd: string): Promise<string> {
  try {
    const { stdout } = await run('git', args, { cwd, maxBuffer: 256 * 1024 * 1024, encoding: 'utf8' });
    return stdout;
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr?.trim();
    throw new Error(`git ${args[0] ?? ''} failed in ${cwd}: ${stderr || (error as Error).message}`, {
      cause: error,
    });
  }
}

export interface RepoInfo {
  /** Top of the work tree. */
  top: string;
  /** The git directory shared by all worktrees (absolute). */
  commonDir: string;
  /** HEAD's full ref (`refs/heads/main`), or '' when detached. */
  headRef: string;
}

/** Where the git work tree containing `dir` is, in one git call; undefined outside a work tree. */
export async function findRepo(dir: string): Promise<RepoInfo | undefined> {
  let out: string;
  try {
    out = await git(
      [
        'rev-parse',
        '--show-toplevel',
        '--path-format=absolute',
        '--git-common-dir',
        '--symbolic-full-name',
        'HEAD',
      ],
      dir,
    );
  } catch {
    // A repository without a commit yet has no HEAD to name; it is still a repository (its
    // .gitignore applies, its state goes to .git/conveyor), only without a head commit.
    try {
      out = await git(['rev-parse', '--show-toplevel', '--path-format=absolute', '--git-common-dir'], dir);
    } catch {
      return undefined;
    }
    const [top = '', commonDir = ''] = out.split('\n');
    const headRef = await git(['symbolic-ref', '-q', 'HEAD'], dir).catch(() => '');
    return { top, commonDir, headRef: headRef.trim() };
  }
  const [top = '', commonDir = '', headRef = ''] = out.split('\n');
  return { top, commonDir, headRef: headRef === 'HEAD' ? '' : headRef };
}

/** The top of the git work tree containing `dir`, or undefined when it is not in one. */
export async function findWorkTree(dir: string): Promise<string | undefined> {
  return (await findRepo(dir))?.top;
}

/** HEAD's commit; undefined for a repository without commits. */
export async function readHeadCommit(dir: string, ref: string): Promise<CommitInfo | undefined> {
  let raw: string;
  try {
    raw = await git(['log', '-1', '--format=%H%x00%an <%ae>%x00%cI%x00%B'], dir);
  } catch {
    return undefined;
  }
  const [sha = '', author = '', date = '', message = ''] = raw.split('\0');
  return {
    sha,
    ref,
    author,
    message: message.replace(/\n+$/, ''),
    timestamp: new Date(date).toISOString().replace(/\.\d{3}Z$/, 'Z'),
  };
}
