export interface Dates {
  created_at?: string;
  started_at?: string;
  finished_at?: string;
}

/** "1m 05s", "3.2s" or "" for a node that never started. */
export function duration(d: Dates, now = Date.now()): string {
  if (!d.started_at) return '';
  const ms = (d.finished_at ? Date.parse(d.finished_at) : now) - Date.parse(d.started_at);
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.round(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export function ago(iso: string | undefined, now = Date.now()): string {
  if (!iso) return '';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return new Date(iso).toISOString().slice(0, 10);
}

const LABELS: Record<string, string> = {
  created: 'queued',
  prepared: 'queued',
  processing: 'running',
  success: 'passed',
  failed: 'failed',
  canceled: 'canceled',
  timeout: 'timed out',
};

export const statusLabel = (status: string) => LABELS[status] ?? status.replace(/_/g, ' ');

export const isDone = (status: string) => ['success', 'failed', 'canceled', 'timeout'].includes(status);

export const shortRef = (ref: string | undefined) => (ref ?? '').replace(/^refs\/(heads|tags)\//, '');
