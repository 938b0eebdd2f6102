import { isScalar, isSeq, LineCounter, parseDocument, visit, type Document } from 'yaml';
import { Decoder, type Entry } from './decoder.js';
import { DiagnosticBag, type Diagnostic } from './diagnostics.js';
import { checkReferences } from './check-references.js';
import type { CiConfig, ExprSite, WorkflowDef } from './model.js';
import { decodeCube, type RawCube } from './parse-cube.js';
import { decodeTask, type Library, type RawTask } from './parse-task.js';
import { decodeTokens } from './parse-tokens.js';
import { decodeTriggers } from './parse-triggers.js';
import { decodeWorkflow } from './parse-workflow.js';

export interface ParseResult {
  /** Present when there are no errors (warnings allowed). */
  config?: CiConfig;
  diagnostics: Diagnostic[];
}

/** Limits of a config (docs/config-reference.md): larger ones are refused with a diagnostic. */
export const CONFIG_MAX_BYTES = 1024 * 1024;
export const CONFIG_MAX_NODES = 100_000;

const TOP_KEYS = ['on', 'workflows', 'tasks', 'cubes', 'tokens', 'env'] as const;

/** Parses and validates a ci.yaml text. `file` is only used in diagnostics. */
export function parseCiConfig(source: string, file: string): ParseResult {
  const bag = new DiagnosticBag(file);
  const bytes = Buffer.byteLength(source);
  if (bytes > CONFIG_MAX_BYTES) {
    bag.error(
      { line: 1, column: 1 },
      `the config is ${bytes} bytes; the limit is ${CONFIG_MAX_BYTES} bytes (1 MiB)`,
      'move large values out of the config: scripts into files of the repository, data into artifacts',
    );
    return { diagnostics: bag.sorted() };
  }
  const lines = new LineCounter();
  const doc = parseDocument(source, {
    lineCounter: lines,
    prettyErrors: false,
    // The library's own check compares every key with every other (seconds for a map of 50,000
    // keys): duplicates are found below with one set per map instead.
    uniqueKeys: false,
    merge: true,
  });
  for (const error of doc.errors) {
    const { line, col } = lines.linePos(error.pos[0]);
    if (error.code === 'MULTIPLE_DOCS') {
      bag.error(
        { line, column: col },
        'a second YAML document starts here: a line `---` (or `...`) ends the config',
        'a ci.yaml is one document: remove the line, or indent it if it belongs to a multi-line script',
      );
      continue;
    }
    bag.error({ line, column: col }, yamlMessage(error.message), yamlHint(error.code));
  }
  if (bag.hasErrors) return { diagnostics: bag.sorted() };
  let nodes = 0;
  visit(doc, () => (++nodes > CONFIG_MAX_NODES ? visit.BREAK : undefined));
  if (nodes <= CONFIG_MAX_NODES) checkUniqueKeys(doc, lines, bag);
  if (bag.hasErrors) return { diagnostics: bag.sorted() };
  if (nodes > CONFIG_MAX_NODES) {
    bag.error(
      { line: 1, column: 1 },
      `the config has more than ${CONFIG_MAX_NODES} YAML nodes (keys, values and list items)`,
      'split it: reuse tasks and cubes by name instead of repeating them',
    );
    return { diagnostics: bag.sorted() };
  }
  const d = new Decoder(doc, lines, bag, source);
  const root = doc.contents;
  if (root === null) {
    bag.error(
      { line: 1, column: 1 },
      'the config is empty',
      'define at least one workflow under `workflows:`',
    );
    return { diagnostics: bag.sorted() };
  }
  const entries = d.entries(root, 'the config', { line: 1, column: 1 });
  if (!entries) return { diagnostics: bag.sorted() };
  // Keys starting with x- or . hold YAML anchors for reuse (as in Compose files): not warned about.
  const triggerKeys = ['push', 'pull_request', 'schedule'];
  for (const e of entries.filter((x) => triggerKeys.includes(x.key)))
    bag.warning(
      e.keyPos,
      `'${e.key}' at the top level is ignored: SourceCraft reads triggers under on:`,
      `indent it under \`on:\` (on:\n  ${e.key}: ...)`,
    );
  d.checkKeys(
    entries.filter((e) => !e.key.startsWith('x-') && !e.key.startsWith('.') && !triggerKeys.includes(e.key)),
    TOP_KEYS,
    'the config',
  );
  const get = (key: string): Entry | undefined => entries.find((e) => e.key === key);
  const sites: ExprSite[] = [];
  const env = get('env') ? (d.stringMap(get('env') as Entry, 'env', sites) ?? {}) : {};
  const tokens = decodeTokens(d, get('tokens'));
  const lib = decodeLibrary(d, get('tasks'), get('cubes'));
  const workflows = decodeWorkflows(d, get('workflows'));
  const workflowNames = workflows.map((w) => w.name);
  const triggers = decodeTriggers(d, get('on'), workflowNames);
  const config: CiConfig = { file, env, tokens, triggers, workflows, sites };
  checkReferences(config, bag);
  return bag.hasErrors ? { diagnostics: bag.sorted() } : { config, diagnostics: bag.sorted() };

  function decodeWorkflows(dec: Decoder, entry: Entry | undefined): WorkflowDef[] {
    if (!entry) {
      bag.error({ line: 1, column: 1 }, 'the config defines no workflows', 'add a `workflows:` section');
      return [];
    }
    const items = dec.entries(entry.value, 'workflows', entry.pos) ?? [];
    if (items.length === 0) bag.error(entry.pos, '`workflows:` is empty', 'define at least one workflow');
    return items.flatMap((item) => decodeWorkflow(dec, item, lib) ?? []);
  }
}

function decodeLibrary(d: Decoder, tasks: Entry | undefined, cubes: Entry | undefined): Library {
  const lib: Library = { tasks: new Map<string, RawTask>(), cubes: new Map<string, RawCube>() };
  if (cubes) {
    if (!isSeq(cubes.value)) d.bag.error(cubes.pos, 'top-level cubes must be a list of cubes');
    for (const item of isSeq(cubes.value) ? d.list(cubes) : []) {
      const cube = decodeCube(d, item, 'top-level cubes');
      if (!cube?.name) continue;
      if (cube.uses)
        d.bag.error(
          cube.uses.pos,
          `top-level cube '${cube.name}' uses another cube`,
          'uses is resolved one level deep: copy the cube instead',
        );
      if (lib.cubes.has(cube.name)) d.bag.error(cube.pos, `duplicate top-level cube name '${cube.name}'`);
      lib.cubes.set(cube.name, cube);
    }
  }
  if (tasks) {
    if (!isSeq(tasks.value)) d.bag.error(tasks.pos, 'top-level tasks must be a list of tasks');
    for (const item of isSeq(tasks.value) ? d.list(tasks) : []) {
      const task = decodeTask(d, item, 'top-level tasks');
      if (!task?.name) continue;
      if (task.uses)
        d.bag.error(
          task.uses.pos,
          `top-level task '${task.name}' has uses`,
          'uses is allowed only in workflows.<name>.tasks',
        );
      if (lib.tasks.has(task.name)) d.bag.error(task.pos, `duplicate top-level task name '${task.name}'`);
      lib.tasks.set(task.name, task);
    }
  }
  return lib;
}

/** Every mapping's keys are unique (as YAML requires); the second of two equal keys is reported. */
function checkUniqueKeys(doc: Document, lines: LineCounter, bag: DiagnosticBag): void {
  visit(doc, {
    Map(_, map) {
      const seen = new Set<string>();
      for (const pair of map.items) {
        const key = pair.key;
        const name = isScalar(key) ? String(key.value) : undefined;
        if (name === undefined || name === '<<') continue;
        if (seen.has(name)) {
          const { line, col } = lines.linePos(key && isScalar(key) ? (key.range?.[0] ?? 0) : 0);
          bag.error({ line, column: col }, 'YAML syntax: Map keys must be unique', yamlHint('DUPLICATE_KEY'));
        }
        seen.add(name);
      }
    },
  });
}

function yamlMessage(message: string): string {
  const first = message.split('\n')[0] ?? message;
  return `YAML syntax: ${first.replace(/ at line \d+, column \d+:?$/, '')}`;
}

function yamlHint(code: string): string {
  switch (code) {
    case 'DUPLICATE_KEY':
      return 'each key may appear once in a mapping; merge the two entries';
    case 'BAD_INDENT':
    case 'MISSING_CHAR':
      return 'check the indentation: nested keys must be indented more than their parent, with spaces only';
    case 'TAB_AS_INDENT':
      return 'YAML does not allow tabs for indentation; use spaces';
    case 'BLOCK_AS_IMPLICIT_KEY':
    case 'MULTILINE_IMPLICIT_KEY':
      return 'a key and its colon must be on one line; quote values that contain ": "';
    case 'UNEXPECTED_TOKEN':
      return 'quote strings that start with special characters such as *, &, ! or @';
    default:
      return 'check the YAML syntax near this position';
  }
}
