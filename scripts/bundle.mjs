// Bundles the CLI into one ES module so `conveyor` starts without resolving hundreds of files.
// The native SQLite addon and the AWS SDK stay external; everything else is inlined.
import { build } from 'esbuild';

await build({
  entryPoints: ['src/cli/main.ts'],
  outfile: 'dist/conveyor.mjs',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: 'linked',
  // The AWS SDK (S3 blob stores only) is loaded from node_modules when a server uses S3.
  external: ['better-sqlite3', '@aws-sdk/*'],
  legalComments: 'none',
  // Bundled CommonJS dependencies call require() for Node built-ins.
  banner: {
    js: "import { createRequire as __conveyorRequire } from 'node:module'; const require = __conveyorRequire(import.meta.url);",
  },
  logLevel: 'warning',
});
// The config parser's worker thread (src/app/config-parser-pool.ts looks for it next to the bundle).
await build({
  entryPoints: ['src/app/config-worker.ts'],
  outfile: 'dist/config-worker.mjs',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  legalComments: 'none',
  logLevel: 'warning',
});
await import('./build-ui.mjs');
