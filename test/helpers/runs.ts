import { waitFor } from './cli.js';
import type { TestServer } from './server.js';

export interface RunSummary {
  slug: string;
  status: string;
  error_messages: string[];
  workflows: {
    slug: string;
    tasks: {
      slug: string;
      outputs: Record<string, string>;
      cubes: {
        slug: string;
        status: string;
        error_message?: string;
        outputs?: Record<string, string>;
        artifacts: { local_path: string; status: string; error?: string; download_url?: string }[];
      }[];
    }[];
  }[];
}

const ENDED = ['success', 'failed', 'canceled', 'timeout'];

/** Starts a workflow by hand on `/repos/{repo}` and waits for the run to end. */
export async function runToEnd(
  t: TestServer,
  repo: string,
  workflow: string,
  extra: Record<string, unknown> = {},
  token?: string,
): Promise<RunSummary> {
  const started = await t.api<RunSummary>(
    'POST',
    `/repos/${repo}/cicd/runs`,
    { workflows: [{ name: workflow }], ...extra },
    token,
  );
  if (started.status !== 200) throw new Error(`start: ${started.status} ${JSON.stringify(started.body)}`);
  return runEnded(t, repo, started.body.slug);
}

export function runEnded(
  t: TestServer,
  repo: string,
  slug: string,
  deadlineMs = 30_000,
): Promise<RunSummary> {
  return waitFor(
    async () => {
      const got = await t.api<RunSummary>('GET', `/repos/${repo}/cicd/runs/${slug}`);
      return ENDED.includes(got.body.status) ? got.body : undefined;
    },
    `run ${repo}/${slug} to end`,
    deadlineMs,
  );
}

/** One cube's whole log text (all pages). */
export async function cubeLog(t: TestServer, repo: string, slug: string, path: string): Promise<string> {
  let text = '';
  for (let page = 1; ; page++) {
    const got = await t.api<{ logs: string; done: boolean }>(
      'GET',
      `/repos/${repo}/cicd/logs/${slug}/${path}?page=${page}`,
    );
    if (got.status !== 200) throw new Error(`logs page ${page}: ${got.status} ${JSON.stringify(got.body)}`);
    text += got.body.logs;
    if (got.body.done) return text;
  }
}
