import type { Dates } from './format.js';

export interface Artifact {
  id: string;
  local_path: string;
  status: string;
  download_url?: string;
  files?: { path: string; size: number; sha256: string }[];
  error?: string;
}

export interface Cube {
  id: string;
  slug: string;
  dates: Dates;
  status: string;
  artifacts: Artifact[];
  relations: { needs: { name: string }[] };
  allow_failure: boolean;
  exit_code?: number;
  error_message?: string;
}

export interface Task {
  id: string;
  slug: string;
  dates: Dates;
  status: string;
  cubes: Cube[];
  relations: { needs: { name: string }[] };
  /** Why the task is not running yet (`waiting for a worker with tags […]`). */
  message?: string;
}

export interface Workflow {
  id: string;
  slug: string;
  dates: Dates;
  status: string;
  tasks: Task[];
  progress: { percent: number };
}

export interface Run {
  id: string;
  slug: string;
  dates: Dates;
  status: string;
  workflows: Workflow[];
  event_type: string;
  error_messages: string[];
  user?: { id: string; slug: string };
  commit?: { sha: string; ref: string; message: string };
  trigger?: string;
}

export interface Repo {
  id: string;
  slug: string;
  name: string;
  description: string;
  visibility: string;
  default_branch: string;
  organization: { slug: string };
}
