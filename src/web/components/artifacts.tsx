import type { Artifact } from '../lib/types.js';

export function size(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/** A cube's artifacts with their size and a download link (a signed, expiring URL from the API). */
export function Artifacts(props: { artifacts: Artifact[] }) {
  if (props.artifacts.length === 0) return null;
  return (
    <section class="card" aria-label="Artifacts">
      <h2>Artifacts</h2>
      <ul class="list">
        {props.artifacts.map((a) => (
          <li key={a.id} class="row">
            <span class="strong mono">{a.local_path}</span>
            <span class="muted">
              {a.files
                ? `${size(a.files.reduce((s, f) => s + f.size, 0))}, ${a.files.length} files`
                : a.status}
            </span>
            {a.error && <span class="error">{a.error}</span>}
            {a.download_url && (
              <a href={a.download_url} download>
                Download
              </a>
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}
