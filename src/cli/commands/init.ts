import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseConfigFile } from '../../app/load-config.js';
import { printJson, UsageError } from '../output.js';

interface Starter {
  kind: string;
  task: string;
  script: string[];
}

/** What the directory holds decides the first task: the usual build and test commands of its tool. */
async function detect(dir: string): Promise<Starter> {
  const has = (file: string) => existsSync(join(dir, file));
  if (has('package.json')) {
    const pkg = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8').catch(() => '{}')) as {
      scripts?: Record<string, string>;
    };
    const install = has('package-lock.json') ? 'npm ci' : 'npm install';
    const scripts = pkg.scripts ?? {};
    return {
      kind: 'Node.js (package.json)',
      task: 'test',
      script: [
        install,
        ...(scripts.build ? ['npm run build'] : []),
        ...(scripts.test ? ['npm test'] : ['echo "no test script in package.json"']),
      ],
    };
  }
  if (has('pyproject.toml') || has('requirements.txt'))
    return {
      kind: has('pyproject.toml') ? 'Python (pyproject.toml)' : 'Python (requirements.txt)',
      task: 'test',
      script: [
        'python3 -m venv .venv && . .venv/bin/activate',
        has('requirements.txt') ? 'pip install -r requirements.txt' : 'pip install .',
        'python -m pytest',
      ],
    };
  if (has('go.mod')) return { kind: 'Go (go.mod)', task: 'test', script: ['go vet ./...', 'go test ./...'] };
  if (has('Cargo.toml'))
    return {
      kind: 'Rust (Cargo.toml)',
      task: 'test',
      script: ['cargo build --locked', 'cargo test --locked'],
    };
  if (has('Makefile')) return { kind: 'Makefile', task: 'build', script: ['make', 'make test'] };
  return { kind: 'no known project file', task: 'build', script: ['echo "hello from Conveyor"'] };
}

function render(starter: Starter): string {
  const script = starter.script.map((line) => `              - ${JSON.stringify(line)}`).join('\n');
  return `# Conveyor pipeline (SourceCraft ci.yaml format); reference: docs/config-reference.md
# Detected: ${starter.kind}. Check it with \`conveyor validate\`, run it with \`conveyor run\`.
on:
  push: build
workflows:
  build:
    tasks:
      - name: ${starter.task}
        cubes:
          - name: ${starter.task}
            script:
${script}
`;
}

/** `conveyor init`: writes a starter `.conveyor/ci.yaml` that validates. */
export async function initCommand(flags: { dir?: string; force?: boolean; json?: boolean }): Promise<number> {
  const dir = resolve(flags.dir ?? '.');
  const file = join(dir, '.conveyor', 'ci.yaml');
  if (existsSync(file) && !flags.force)
    throw new UsageError(
      `${file} already exists`,
      'pass --force to overwrite it; `conveyor validate` checks it',
    );
  const starter = await detect(dir);
  const text = render(starter);
  const parsed = parseConfigFile(text, '.conveyor/ci.yaml');
  // The starter must be valid: a broken one would be the user's first error message.
  if (!parsed.config || parsed.diagnostics.some((d) => d.severity === 'error'))
    throw new Error(`the starter config does not validate: ${JSON.stringify(parsed.diagnostics)}`);
  await mkdir(join(dir, '.conveyor'), { recursive: true });
  await writeFile(file, text);
  if (flags.json) printJson({ file, detected: starter.kind, script: starter.script });
  else
    process.stdout.write(
      `wrote ${file} (${starter.kind}: ${starter.script.join(' && ')})\nnext: conveyor validate && conveyor run\n`,
    );
  return 0;
}
