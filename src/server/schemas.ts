import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { RUN_STATUSES } from '../core/run/status.js';
import { REPO_ROLES } from '../ports/directory-store.js';

/**
 * The JSON schemas the server validates requests with; @fastify/swagger turns them (and the
 * response schemas, documentation only) into GET /openapi.json.
 */
const Slug = Type.String({ minLength: 1, maxLength: 256, pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$' });
const Nullable = <T extends TSchema>(t: T) => Type.Optional(t);
/** A string enum as OpenAPI writes it (`type: string, enum: [...]`), typed as the union of its values. */
const StringEnum = <T extends string>(values: readonly T[], options: { $id?: string } = {}) =>
  Type.Unsafe<T>({ type: 'string', enum: [...values], ...options });

export const ErrorBody = Type.Object(
  {
    error_code: Type.String(),
    message: Type.String(),
    request_id: Type.String(),
    details: Type.Record(Type.String(), Type.String()),
  },
  { $id: 'ApiErrorResponse' },
);

export const CreateUserBody = Type.Object(
  {
    slug: Slug,
    email: Type.String({ minLength: 3, maxLength: 320, pattern: '^[^@\\s]+@[^@\\s]+$' }),
    first_name: Nullable(Type.String({ maxLength: 256 })),
    last_name: Nullable(Type.String({ maxLength: 256 })),
    admin: Nullable(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type CreateUserBody = Static<typeof CreateUserBody>;

export const CreateTokenBody = Type.Object(
  {
    note: Nullable(Type.String({ maxLength: 1024 })),
    expires_at: Nullable(Type.String({ format: 'date-time' })),
  },
  { additionalProperties: false },
);
export type CreateTokenBody = Static<typeof CreateTokenBody>;

export const CreateOrgBody = Type.Object(
  { slug: Slug, name: Type.String({ minLength: 1, maxLength: 256 }) },
  { additionalProperties: false },
);
export type CreateOrgBody = Static<typeof CreateOrgBody>;

export const CreateRepoBody = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 256 }),
  slug: Slug,
  description: Nullable(Type.String({ maxLength: 65536 })),
  visibility: Nullable(StringEnum(['public', 'internal', 'private'] as const)),
  clone_url: Type.String({ minLength: 1, maxLength: 4096 }),
  default_branch: Nullable(Type.String({ minLength: 1, maxLength: 256 })),
  poll_interval_seconds: Nullable(Type.Integer({ minimum: 0, maximum: 86400 })),
});
export type CreateRepoBody = Static<typeof CreateRepoBody>;

/** PATCH of a repository: any of its changeable fields. */
export const UpdateRepoBody = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    description: Type.Optional(Type.String({ maxLength: 65536 })),
    visibility: Type.Optional(StringEnum(['public', 'internal', 'private'] as const)),
    clone_url: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })),
    default_branch: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    poll_interval_seconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 86400 })),
  },
  { additionalProperties: false },
);
export type UpdateRepoBody = Static<typeof UpdateRepoBody>;

export const SubjectRoles = Type.Object({
  subject_roles: Type.Array(
    Type.Object({
      role: StringEnum(REPO_ROLES),
      subject: Type.Object({ type: Type.Optional(Type.Literal('user')), id: Type.String({ minLength: 1 }) }),
    }),
    { maxItems: 1000 },
  ),
});
export type SubjectRoles = Static<typeof SubjectRoles>;

export const SecretBody = Type.Object(
  { value: Type.String({ maxLength: 65536 }) },
  { additionalProperties: false },
);
export type SecretBody = Static<typeof SecretBody>;
export const SecretName = Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]{0,127}$' });

/** A service connection: what the id tokens of `tokens:` are for. */
export const ServiceConnectionBody = Type.Object(
  {
    audience: Type.String({ minLength: 1, maxLength: 1024 }),
    service_account_id: Type.Optional(Type.String({ maxLength: 256 })),
    folder_id: Type.Optional(Type.String({ maxLength: 256 })),
  },
  { additionalProperties: false },
);
export type ServiceConnectionBody = Static<typeof ServiceConnectionBody>;
export const ServiceConnectionName = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$' });

const GitRevision = Type.Object(
  {
    branch: Type.Optional(Type.String({ minLength: 1 })),
    tag: Type.Optional(Type.String({ minLength: 1 })),
    commit: Type.Optional(Type.String({ pattern: '^[0-9a-fA-F]{4,64}$' })),
  },
  { $id: 'GitRevision' },
);

export const RunWorkflowsBody = Type.Object(
  {
    head: Type.Optional(Type.Ref(GitRevision)),
    config_revision: Type.Optional(Type.Ref(GitRevision)),
    workflows: Type.Array(
      Type.Object({
        name: Type.String({ minLength: 1 }),
        values: Type.Optional(
          Type.Array(Type.Object({ name: Type.String({ minLength: 1 }), value: Type.String() }), {
            maxItems: 200,
          }),
        ),
      }),
      { minItems: 1, maxItems: 50 },
    ),
    shared: Type.Optional(Type.Boolean()),
  },
  { $id: 'RunWorkflowsBody' },
);
export type RunWorkflowsBody = Static<typeof RunWorkflowsBody>;
export type GitRevision = Static<typeof GitRevision>;

/** The deprecated `ci_workflows/{name}/trigger` body (D14): strings only, bounded. */
export const LegacyTriggerBody = Type.Object(
  {
    revision: Type.Optional(Type.String({ maxLength: 1000 })),
    workflow_revision: Type.Optional(Type.String({ maxLength: 1000 })),
    input: Type.Optional(
      Type.Object({
        values: Type.Optional(
          Type.Array(Type.Object({ name: Type.String({ minLength: 1 }), value: Type.String() }), {
            maxItems: 200,
          }),
        ),
      }),
    ),
  },
  { $id: 'LegacyTriggerBody' },
);
export type LegacyTriggerBody = Static<typeof LegacyTriggerBody>;

export const RestartBody = Type.Object({
  scope: Type.Optional(StringEnum(['all', 'failed'] as const)),
});

export const PageQuery = Type.Object({
  page_size: Type.Optional(
    Type.Union([Type.Integer({ minimum: 1, maximum: 1000 }), Type.String({ pattern: '^[0-9]{1,4}$' })]),
  ),
  page_token: Type.Optional(Type.String({ maxLength: 200 })),
});
export type PageQuery = Static<typeof PageQuery>;

/** The runs list's query: paging plus Conveyor's filters (comma-separated statuses, a branch, a workflow). */
export const RunsQuery = Type.Object({
  ...PageQuery.properties,
  status: Type.Optional(Type.String({ pattern: '^[a-z_]+(,[a-z_]+)*$', maxLength: 200 })),
  branch: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
  workflow: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
});
export type RunsQuery = Static<typeof RunsQuery>;

export const LogsQuery = Type.Object({
  page: Type.Optional(Type.Union([Type.Integer({ minimum: 1 }), Type.String({ pattern: '^[0-9]{1,12}$' })])),
  timestamps: Type.Optional(Type.Boolean()),
});

const Status = StringEnum(RUN_STATUSES, { $id: 'Run.Status' });
const Dates = Type.Object(
  {
    created_at: Type.Optional(Type.String({ format: 'date-time' })),
    started_at: Type.Optional(Type.String({ format: 'date-time' })),
    finished_at: Type.Optional(Type.String({ format: 'date-time' })),
    updated_at: Type.Optional(Type.String({ format: 'date-time' })),
  },
  { $id: 'DatesByStage' },
);
const Relations = Type.Object(
  { needs: Type.Array(Type.Object({ name: Type.String() })) },
  { $id: 'Relations' },
);
const Artifact = Type.Object(
  {
    id: Type.String(),
    local_path: Type.String(),
    dates: Type.Object({
      registered_at: Type.Optional(Type.String({ format: 'date-time' })),
      obtained_at: Type.Optional(Type.String({ format: 'date-time' })),
      updated_at: Type.Optional(Type.String({ format: 'date-time' })),
    }),
    status: StringEnum(['registered', 'success', 'failed', 'missing'] as const),
    download_url: Type.Optional(Type.String()),
  },
  { $id: 'Artifact' },
);
const Cube = Type.Object(
  {
    id: Type.String(),
    slug: Type.String(),
    dates: Type.Ref(Dates),
    status: Type.Ref(Status),
    artifacts: Type.Array(Type.Ref(Artifact)),
    relations: Type.Ref(Relations),
  },
  { $id: 'Cube' },
);
const Progress = Type.Object(
  { percent: Type.Number(), current_cube: Type.Optional(Type.Ref(Cube)) },
  { $id: 'Progress' },
);
const Task = Type.Object(
  {
    id: Type.String(),
    slug: Type.String(),
    description: Type.String(),
    dates: Type.Ref(Dates),
    status: Type.Ref(Status),
    cubes: Type.Array(Type.Ref(Cube)),
    progress: Type.Ref(Progress),
    relations: Type.Ref(Relations),
  },
  { $id: 'Task' },
);
const Workflow = Type.Object(
  {
    id: Type.String(),
    slug: Type.String(),
    description: Type.String(),
    dates: Type.Ref(Dates),
    status: Type.Ref(Status),
    tasks: Type.Array(Type.Ref(Task)),
    progress: Type.Ref(Progress),
  },
  { $id: 'Workflow' },
);
const EventType = StringEnum(['push', 'pr_update', 'manual', 'restart'] as const, { $id: 'EventType' });
const Run = Type.Object(
  {
    id: Type.String(),
    slug: Type.String(),
    dates: Type.Ref(Dates),
    status: Type.Ref(Status),
    workflows: Type.Array(Type.Ref(Workflow)),
    event_type: Type.Ref(EventType),
    error_messages: Type.Array(Type.String()),
    pull: Type.Optional(Type.Object({ id: Type.String(), slug: Type.String() })),
    user: Type.Optional(Type.Object({ id: Type.String(), slug: Type.String() })),
  },
  { $id: 'Run' },
);
const ListRunsResponse = Type.Object(
  { runs: Type.Array(Type.Ref(Run)), next_page_token: Type.Optional(Type.String()) },
  { $id: 'ListRunsResponse' },
);
const GetCubeLogsResponse = Type.Object(
  { logs: Type.String(), page_complete: Type.Boolean(), done: Type.Boolean() },
  { $id: 'GetCubeLogsResponse' },
);
const GetCubeArtifactsResponse = Type.Object(
  { artifacts: Type.Array(Type.Ref(Artifact)) },
  { $id: 'GetCubeArtifactsResponse' },
);

/** Shared schemas, added to Fastify once so routes and the OpenAPI document can refer to them. */
export const SHARED_SCHEMAS = [
  ErrorBody,
  GitRevision,
  RunWorkflowsBody,
  Status,
  Dates,
  Relations,
  Artifact,
  Cube,
  Progress,
  Task,
  Workflow,
  EventType,
  Run,
  ListRunsResponse,
  GetCubeLogsResponse,
  GetCubeArtifactsResponse,
];

export const ref = (id: string) => Type.Ref(id);

const Duration = Type.String({ pattern: '^[0-9]+(ms|s|m|h|d)$' });
const ApprovalModeSchema = StringEnum([
  'none',
  'none_create_request',
  'require_any',
  'require_one_per_team',
] as const);
const EnvironmentFields = {
  name: Type.String({ minLength: 1, maxLength: 256 }),
  key: Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$' }),
  type: Type.Optional(Type.String({ maxLength: 64 })),
  addToWorkflow: Type.Optional(Type.Boolean()),
  workflowOrder: Type.Optional(Type.Integer({ minimum: 0, maximum: 10_000 })),
  requiredReviewers: Type.Optional(Type.Boolean()),
  reviewers: Type.Optional(Type.Array(Type.Object({ id: Type.String({ minLength: 1 }) }), { maxItems: 200 })),
  approvalMode: Type.Optional(ApprovalModeSchema),
  approvalGroups: Type.Optional(
    Type.Array(
      Type.Object({
        id: Type.String({ minLength: 1 }),
        name: Type.Optional(Type.String()),
        members: Type.Optional(Type.Array(Type.Object({ id: Type.String({ minLength: 1 }) }))),
      }),
      { maxItems: 50 },
    ),
  ),
  workflow: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 256 }), Type.Null()])),
  approvalTimeout: Type.Optional(Type.Union([Duration, Type.Null()])),
  deploymentId: Type.Optional(Type.Union([Type.String(), Type.Null()])),
};
export const CreateEnvironmentBody = Type.Object(EnvironmentFields);
export type CreateEnvironmentBody = Static<typeof CreateEnvironmentBody>;
export const UpdateEnvironmentBody = Type.Partial(Type.Object(EnvironmentFields));
export type UpdateEnvironmentBody = Static<typeof UpdateEnvironmentBody>;

export const CreateReleaseBody = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 256 }),
  description: Type.Optional(Type.String({ maxLength: 65536 })),
  commitId: Type.Optional(Type.String({ pattern: '^[0-9a-fA-F]{4,64}$' })),
  sourceRun: Type.Optional(
    Type.Union([Type.String({ pattern: '^[0-9]{1,15}$' }), Type.Integer({ minimum: 1 })]),
  ),
  status: Type.Optional(StringEnum(['draft', 'published'] as const)),
  versionType: Type.Optional(StringEnum(['major', 'minor', 'patch'] as const)),
});
export type CreateReleaseBody = Static<typeof CreateReleaseBody>;

export const PublishReleaseBody = Type.Object({
  name: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
  description: Type.Optional(Type.String({ maxLength: 65536 })),
  versionType: Type.Optional(StringEnum(['major', 'minor', 'patch'] as const)),
});
export type PublishReleaseBody = Static<typeof PublishReleaseBody>;

const Uuid = Type.String({ pattern: '^[0-9a-fA-F-]{36}$' });
export const DeployBody = Type.Object({
  releaseId: Uuid,
  environmentId: Uuid,
  comment: Type.Optional(Type.String({ maxLength: 4096 })),
});
export type DeployBody = Static<typeof DeployBody>;
export const StartRunBody = Type.Object({
  releaseId: Uuid,
  name: Type.Optional(Type.String({ maxLength: 256 })),
});
export type StartRunBody = Static<typeof StartRunBody>;
export const ReviewBody = Type.Object({
  conclusion: StringEnum(['approved', 'rejected'] as const),
  comment: Type.Optional(Type.String({ maxLength: 4096 })),
});
export type ReviewBody = Static<typeof ReviewBody>;
export const CancelBody = Type.Object({ comment: Type.Optional(Type.String({ maxLength: 4096 })) });
export const DeployPageQuery = Type.Object({
  page: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })),
  pageSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 200 })),
  status: Type.Optional(StringEnum(['in_progress', 'completed', 'cancelled', 'waiting', 'failure'] as const)),
  releaseId: Type.Optional(Uuid),
});
export type DeployPageQuery = Static<typeof DeployPageQuery>;
