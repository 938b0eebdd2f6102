import type { Access, Principal } from '../app/access.js';
import type { RunServices } from '../app/create-run.js';
import type { RunDispatcher } from '../app/run-dispatcher.js';
import type { RunEvents } from '../app/run-events.js';
import type { LiveViews } from '../app/live-views.js';
import type { SecretBox } from '../app/secret-box.js';
import type { TriggerLoop } from '../app/trigger-loop.js';
import type { ArtifactStore } from '../ports/artifact-store.js';
import type { BlobStore } from '../ports/blob-store.js';
import type { LogStore } from '../ports/log-store.js';
import type { RunView } from './run-view.js';
import type { DeployEngine } from '../app/deploy-engine.js';
import type { DeploymentStore } from '../ports/deployment-store.js';
import type { OidcIssuer } from '../app/id-tokens.js';
import type { IdentityStore } from '../ports/identity-store.js';
import type { OperatorLog } from './operator-log.js';
import type { UiSessions } from './ui/sessions.js';
import type { WorkerHub } from '../app/worker-hub.js';
import type { Notifier } from '../ports/notifier.js';

/** Everything the routes use, built once by compose.ts. */
export interface ServerContext {
  services: RunServices;
  /** Service connections and the OIDC signing keys. */
  identity: IdentityStore;
  issuer: OidcIssuer;
  access: Access;
  box: SecretBox;
  dispatcher: RunDispatcher;
  /** Worker tokens, registered workers and the tasks handed to them. */
  workers: WorkerHub;
  /** Wake-ups within this server and between replicas (LISTEN/NOTIFY on PostgreSQL). */
  notifier: Notifier;
  triggers: TriggerLoop;
  events: RunEvents;
  logs: LogStore;
  /** The artifact store of one repository. */
  artifacts(repoId: string): ArtifactStore;
  /** Where a repository's artifacts lived on disk before the blob store. */
  artifactsDir(repoId: string): string;
  /** Artifacts (and finished logs): files in the data dir, a shared directory or S3. */
  blobs: BlobStore;
  /** Public base URL, for signed links. */
  baseUrl(): string;
  /** How long signed artifact links stay valid. */
  artifactUrlTtlMs: number;
  log(message: string): void;
  /** Settings of who may do what beyond roles (docs/security.md). */
  policy: { orgCreators: 'admins' | 'users' };
  /** The operator log (runs, webhooks, workers), when the server has one. */
  ops?: OperatorLog;
  view: RunView;
  /** One current view per run being read, shared by readers and streams (app/live-views.ts). */
  live: LiveViews;
  /** Web UI sign-in sessions. */
  sessions: UiSessions;
  /** The built web UI's folder, if there is one. */
  uiDir: string | undefined;
  deploy: {
    deployments: DeploymentStore;
    engine: DeployEngine;
    releaseDir(projectId: string, releaseId: string): string;
  };
}

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal;
  }
}
