import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { startTestServer, type TestServer } from '../helpers/server.js';

type Schema = {
  type?: string;
  $ref?: string;
  properties?: Record<string, Schema>;
  items?: Schema;
  enum?: string[];
  anyOf?: Schema[];
};
interface Swagger {
  definitions: Record<string, Schema>;
  paths: Record<string, Record<string, unknown>>;
}
interface OpenApi {
  components: { schemas: Record<string, Schema> };
  paths: Record<string, Record<string, { operationId?: string }>>;
}

// A copy of SourceCraft's published OpenAPI document (shared/reference), kept with the tests.
const SWAGGER = fileURLToPath(
  new URL('../../../test/fixtures/sourcecraft-api.swagger.json', import.meta.url),
);

/** The name a $ref points at, in either document. */
const refName = (ref: string) => ref.split('/').pop() ?? '';
const enumOf = (s: Schema | undefined) =>
  s?.enum ?? s?.anyOf?.map((x) => (x as { const?: string }).const ?? '').filter(Boolean);

describe('OpenAPI document', () => {
  let t: TestServer;
  let ours: OpenApi;
  let theirs: Swagger;
  before(async () => {
    t = await startTestServer();
    ours = (await t.api<OpenApi>('GET', '/openapi.json', undefined, null)).body;
    theirs = JSON.parse(readFileSync(SWAGGER, 'utf8')) as Swagger;
  });
  after(async () => t.close());

  for (const name of [
    'Run',
    'Workflow',
    'Task',
    'Cube',
    'Artifact',
    'Progress',
    'DatesByStage',
    'GetCubeLogsResponse',
    'ListRunsResponse',
  ]) {
    it(`has every field of SourceCraft's ${name}, with the same kind of value`, () => {
      const mine = ours.components.schemas[name];
      const spec = theirs.definitions[name];
      assert.ok(mine?.properties, `${name} is in /openapi.json`);
      assert.ok(spec?.properties, `${name} is in SourceCraft's document`);
      for (const [field, want] of Object.entries(spec.properties)) {
        const got: Schema | undefined = mine.properties[field];
        assert.ok(got, `${name}.${field} is missing`);
        if (want.$ref) {
          const target = theirs.definitions[refName(want.$ref)];
          if (target?.enum)
            assert.deepEqual(
              [...(enumOf(got.$ref ? ours.components.schemas[refName(got.$ref)] : got) ?? [])].sort(),
              [...target.enum].sort(),
              `${name}.${field} enum`,
            );
          else if (field !== 'pull' && field !== 'user')
            assert.ok(got.$ref || got.type === 'object', `${name}.${field} is an object`);
        } else if (want.type) {
          assert.equal(got.type, want.type === 'integer' ? 'number' : want.type, `${name}.${field} type`);
        }
      }
    });
  }

  it('serves every SourceCraft CI/CD operation, under /repos and on the legacy paths', () => {
    const paths = Object.keys(ours.paths);
    const toOurs = (p: string) => p.replace(/\{(\w+)\}/g, ':$1').replace('id::repo_id', ':repo_ref');
    for (const [path, methods] of Object.entries(theirs.paths)) {
      if (!/cicd|ci_workflows/.test(path)) continue;
      const mine = toOurs(path).replace(/:(\w+)/g, '{$1}');
      for (const method of Object.keys(methods)) {
        assert.ok(paths.includes(mine), `${method.toUpperCase()} ${path} (${mine}) is served`);
        assert.ok(ours.paths[mine]?.[method], `${method.toUpperCase()} ${mine}`);
        if (!path.startsWith('/repos/')) {
          const prefixed = `/repos${mine}`;
          if (!mine.includes('ci_workflows'))
            assert.ok(ours.paths[prefixed]?.[method], `${method.toUpperCase()} ${prefixed}`);
        }
      }
    }
  });
});
