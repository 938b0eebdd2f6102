import { isScalar, type Node } from 'yaml';
import { parseActionRef } from '../actions/action-ref.js';
import type { Decoder, Entry } from './decoder.js';
import type { Pos } from './diagnostics.js';
import type { ExprSite, ImageDef } from './model.js';

export interface NameRef {
  name: string;
  pos: Pos;
}

/** A cube as written, before `uses` is applied and implicit `needs` are filled in. */
export interface RawCube {
  name?: string;
  pos: Pos;
  uses?: NameRef;
  script?: string[];
  image?: ImageDef;
  env?: Record<string, string>;
  /** undefined: not written (follows the previous cube); []: `needs: ['-']`. */
  needs?: NameRef[];
  artifacts?: string[];
  allowFailure?: boolean;
  action?: string;
  with?: Record<string, string>;
  sites: ExprSite[];
}

const CUBE_KEYS = [
  'name',
  'script',
  'image',
  'env',
  'needs',
  'artifacts',
  'allow_failure',
  'uses',
  'description',
  'action',
  'with',
] as const;

export function decodeCube(
  d: Decoder,
  item: { value: Node | null; pos: Pos },
  where: string,
): RawCube | undefined {
  const entries = d.entries(item.value, `cube in ${where}`, item.pos);
  if (!entries) return undefined;
  const cube: RawCube = { pos: item.pos, sites: [] };
  const nameEntry = entries.find((e) => e.key === 'name');
  if (nameEntry) cube.name = d.name(nameEntry, 'cube name');
  const label = cube.name ? `cube '${cube.name}'` : `cube in ${where}`;
  for (const entry of entries) decodeCubeKey(d, cube, entry, label);
  d.checkKeys(
    entries.filter((e) => !['gitlab_workflow', 'if'].includes(e.key)),
    CUBE_KEYS,
    label,
  );
  checkKinds(d, cube, entries, label);
  if (!cube.name && !cube.uses) {
    d.bag.error(
      item.pos,
      `${label} has no name`,
      'every cube needs `name:` (or `uses:` of a top-level cube)',
    );
  }
  return cube;
}

function decodeCubeKey(d: Decoder, cube: RawCube, entry: Entry, label: string): void {
  switch (entry.key) {
    case 'script':
      cube.script = decodeScript(d, entry, label, cube.sites);
      return;
    case 'image':
      cube.image = decodeImage(d, entry, label, cube.sites);
      return;
    case 'env':
      cube.env = d.stringMap(entry, `env of ${label}`, cube.sites);
      return;
    case 'needs':
      cube.needs = decodeNeeds(d, entry, label);
      return;
    case 'artifacts':
      cube.artifacts = decodeArtifacts(d, entry, label, cube.sites);
      return;
    case 'allow_failure':
      cube.allowFailure = d.bool(entry, `allow_failure of ${label}`);
      return;
    case 'uses': {
      const name = d.name(entry, `uses of ${label}`);
      if (name) cube.uses = { name, pos: entry.pos };
      return;
    }
    case 'action': {
      const name = d.name(entry, `action of ${label}`);
      if (name === undefined) return;
      const ref = parseActionRef(name);
      if ('error' in ref) d.bag.error(entry.pos, `action of ${label}: ${ref.error}`, ACTION_HINT);
      cube.action = name;
      return;
    }
    case 'with':
      cube.with = decodeWith(d, entry, label, cube.sites);
      return;
    case 'if':
      d.bag.warning(
        entry.keyPos,
        `${label} has \`if:\`, which SourceCraft does not have: the cube will always run`,
        'to skip work, test the condition in the script, e.g. [ "$SOURCECRAFT_EVENT" = push ] || exit 0',
      );
      return;
    case 'gitlab_workflow':
      d.bag.error(
        entry.keyPos,
        `${label} is a GitLab pipeline cube (gitlab_workflow:), which Conveyor does not run yet`,
        'port the GitLab jobs to tasks and cubes with script:',
      );
      return;
    default:
      return;
  }
}

const ACTION_HINT =
  'write action: owner/repo@v1, owner/repo/path@ref, or ./path for an action in the repository';

/** An action cube runs the action: it has no script or image of its own. */
function checkKinds(d: Decoder, cube: RawCube, entries: Entry[], label: string): void {
  const at = (key: string) => entries.find((e) => e.key === key)?.keyPos ?? cube.pos;
  if (cube.action !== undefined) {
    for (const key of ['script', 'image'] as const) {
      if (cube[key] === undefined) continue;
      d.bag.error(
        at(key),
        `${label} has both action: and ${key}:`,
        'an action cube runs the action; put the commands in a cube of their own',
      );
    }
  } else if (cube.with !== undefined && !cube.uses) {
    // (With `uses:`, with: may give the inputs of a top-level action cube.)
    d.bag.warning(at('with'), `${label} has with: but no action:; it is ignored`, ACTION_HINT);
  }
}

/** `with:` of an action cube: input name -> text. Input names are free-form (hyphens are common). */
function decodeWith(
  d: Decoder,
  entry: Entry,
  label: string,
  sites: ExprSite[],
): Record<string, string> | undefined {
  const node = d.resolve(entry.value);
  if (node === null || (isScalar(node) && node.value === null)) return {};
  const entries = d.entries(node, `with of ${label}`, entry.pos);
  if (!entries) return undefined;
  const out: Record<string, string> = {};
  for (const e of entries) {
    const value = d.text(e, `with.${e.key} of ${label}`);
    if (value === undefined) continue;
    out[e.key] = value;
    sites.push(d.site(e.value, value, e.pos));
  }
  return out;
}

function decodeScript(d: Decoder, entry: Entry, label: string, sites: ExprSite[]): string[] | undefined {
  const lines: string[] = [];
  for (const item of d.list(entry)) {
    const text = d.text(item, `each line of the script of ${label}`);
    if (text === undefined) return undefined;
    lines.push(text);
    sites.push(d.site(item.value, text, item.pos));
  }
  if (lines.length === 0) d.bag.error(entry.pos, `script of ${label} is empty`, 'give at least one command');
  return lines;
}

function decodeImage(d: Decoder, entry: Entry, label: string, sites: ExprSite[]): ImageDef | undefined {
  const short = d.resolve(entry.value);
  if (short && 'value' in short && typeof short.value === 'string') {
    sites.push(d.site(short, short.value, entry.pos));
    return { name: short.value };
  }
  const entries = d.entries(entry.value, `image of ${label}`, entry.pos);
  if (!entries) return undefined;
  d.checkKeys(entries, ['name', 'username', 'password', 'entrypoint', 'args'], `image of ${label}`);
  const image: Partial<ImageDef> = {};
  for (const e of entries) {
    if (e.key === 'name' || e.key === 'username' || e.key === 'password') {
      const value = d.text(e, `image.${e.key} of ${label}`);
      if (value !== undefined) {
        image[e.key] = value;
        sites.push(d.site(e.value, value, e.pos));
      }
    } else if (e.key === 'entrypoint') {
      const value = d.list(e).map((item) => d.text(item, `image.entrypoint of ${label}`) ?? '');
      image.entrypoint = value.filter((part) => part !== '');
    } else if (e.key === 'args') {
      image.args = d.stringList(e, `image.args of ${label}`);
    }
  }
  if (!image.name) {
    d.bag.error(entry.pos, `image of ${label} has no name`, 'write image: {name: registry/image:tag}');
    return undefined;
  }
  return image as ImageDef;
}

export function decodeNeeds(d: Decoder, entry: Entry, label: string): NameRef[] | undefined {
  const out: NameRef[] = [];
  for (const item of d.list(entry)) {
    const name = d.name(item, `each item of needs of ${label}`);
    if (name === undefined) return undefined;
    out.push({ name, pos: item.pos });
  }
  if (out.some((n) => n.name === '-')) {
    if (out.length > 1) {
      d.bag.error(
        entry.pos,
        `needs of ${label} mixes '-' with names`,
        "use ['-'] alone to depend on nothing",
      );
    }
    return [];
  }
  return out;
}

function decodeArtifacts(d: Decoder, entry: Entry, label: string, sites: ExprSite[]): string[] | undefined {
  const entries = d.entries(entry.value, `artifacts of ${label}`, entry.pos);
  if (!entries) return undefined;
  d.checkKeys(entries, ['paths'], `artifacts of ${label}`);
  const pathsEntry = entries.find((e) => e.key === 'paths');
  if (!pathsEntry) {
    d.bag.error(entry.pos, `artifacts of ${label} has no paths`, 'write artifacts: {paths: [dist/]}');
    return undefined;
  }
  const paths: string[] = [];
  for (const item of d.list(pathsEntry)) {
    const path = d.name(item, `each artifact path of ${label}`);
    if (path === undefined) continue;
    if (path.startsWith('/') || path.split(/[\\/]/).includes('..')) {
      d.bag.error(
        item.pos,
        `artifact path '${path}' of ${label} leaves the workspace`,
        'artifact paths are relative to the workspace and may not contain .. or start with /',
      );
      continue;
    }
    paths.push(path);
    sites.push(d.site(item.value, path, item.pos));
  }
  return paths;
}
