import { isAlias, isMap, isScalar, isSeq, Scalar, type Document, type LineCounter, type Node } from 'yaml';
import { DiagnosticBag, didYouMean, type Pos } from './diagnostics.js';
import type { ExprSite } from './model.js';

/** One `key: value` of a YAML mapping, with positions for both sides. */
export interface Entry {
  key: string;
  keyPos: Pos;
  value: Node | null;
  pos: Pos;
}

/**
 * Typed reads over the YAML AST that report every mismatch at its file:line:column.
 * Each read returns `undefined` (and records an error) when the node has the wrong shape,
 * so decoding goes on and reports all problems in one pass.
 */
export class Decoder {
  constructor(
    readonly doc: Document,
    readonly lines: LineCounter,
    readonly bag: DiagnosticBag,
    readonly source: string,
  ) {}

  pos(node: Node | null | undefined, fallback: Pos = { line: 1, column: 1 }): Pos {
    const offset = node?.range?.[0];
    if (offset === undefined) return fallback;
    const { line, col } = this.lines.linePos(offset);
    return { line, column: col };
  }

  resolve(node: Node | null | undefined): Node | null {
    let current: unknown = node ?? null;
    for (let depth = 0; isAlias(current) && depth < 32; depth++) current = current.resolve(this.doc) ?? null;
    return (current as Node | null) ?? null;
  }

  entries(node: Node | null, what: string, at: Pos): Entry[] | undefined {
    const resolved = this.resolve(node);
    if (!isMap(resolved)) {
      this.bag.error(
        this.pos(resolved, at),
        `${what} must be a mapping, got ${describe(resolved)}`,
        'write `key: value` entries indented under it',
      );
      return undefined;
    }
    const own: Entry[] = [];
    const merged: Entry[] = [];
    for (const pair of resolved.items) {
      const keyNode = pair.key as Node | null;
      const isMerge = isScalar(keyNode) && (typeof keyNode.value === 'symbol' || keyNode.value === '<<');
      const key = isMerge ? '<<' : isScalar(keyNode) ? String(keyNode.value) : undefined;
      const keyPos = this.pos(keyNode, this.pos(resolved, at));
      if (key === undefined) {
        this.bag.error(
          keyPos,
          `keys in ${what} must be plain strings`,
          'write keys as plain words, e.g. `name:`',
        );
        continue;
      }
      const value = pair.value as Node | null;
      if (key === '<<') {
        merged.push(...this.mergeEntries(value, what, keyPos));
        continue;
      }
      own.push({ key, keyPos, value: this.resolve(value), pos: this.pos(this.resolve(value), keyPos) });
    }
    const ownKeys = new Set(own.map((e) => e.key));
    return [...merged.filter((e) => !ownKeys.has(e.key)), ...own];
  }

  /** The mappings whose merge keys are being read: an alias back to one of them is a cycle. */
  private readonly merging = new Set<Node>();

  private mergeEntries(value: Node | null, what: string, at: Pos): Entry[] {
    const resolved = this.resolve(value);
    const sources = isSeq(resolved) ? resolved.items.map((item) => this.resolve(item as Node)) : [resolved];
    const out: Entry[] = [];
    for (const source of sources) {
      if (source && this.merging.has(source)) {
        this.bag.error(
          at,
          `a merge key (<<) in ${what} refers to a mapping that contains it`,
          'merge a different anchor',
        );
        continue;
      }
      if (source) this.merging.add(source);
      try {
        out.push(...(this.entries(source, what, at) ?? []));
      } finally {
        if (source) this.merging.delete(source);
      }
    }
    return out;
  }

  /** Unknown keys are warnings: Conveyor ignores them, but says so. */
  checkKeys(entries: Entry[], allowed: readonly string[], where: string): void {
    for (const entry of entries) {
      if (allowed.includes(entry.key)) continue;
      const hint = didYouMean(entry.key, allowed) ?? `known keys here: ${allowed.join(', ')}`;
      this.bag.warning(entry.keyPos, `unknown key '${entry.key}' in ${where}; it is ignored`, hint);
    }
  }

  /** A name or identifier: must be a non-empty string scalar. */
  name(entry: { value: Node | null; pos: Pos }, what: string): string | undefined {
    const node = this.resolve(entry.value);
    if (isScalar(node) && typeof node.value === 'string' && node.value.trim() !== '') return node.value;
    this.bag.error(
      this.pos(node, entry.pos),
      `${what} must be a non-empty string, got ${describe(node)}`,
      'write a plain or quoted string',
    );
    return undefined;
  }

  /** A scalar value used as text (env values, inputs): numbers and booleans are written as YAML has them. */
  text(entry: { value: Node | null; pos: Pos }, what: string): string | undefined {
    const node = this.resolve(entry.value);
    if (isScalar(node) && node.value !== null && typeof node.value !== 'object') {
      if (typeof node.value === 'string') return node.value;
      if (typeof node.source === 'string') return node.source;
      return typeof node.value === 'number' || typeof node.value === 'boolean' ? `${node.value}` : '';
    }
    if (isScalar(node) && node.value === null) return '';
    this.bag.error(
      this.pos(node, entry.pos),
      `${what} must be a string, got ${describe(node)}`,
      'quote the value, or use | for multi-line text',
    );
    return undefined;
  }

  bool(entry: { value: Node | null; pos: Pos }, what: string): boolean | undefined {
    const node = this.resolve(entry.value);
    if (isScalar(node) && typeof node.value === 'boolean') return node.value;
    this.bag.error(
      this.pos(node, entry.pos),
      `${what} must be true or false, got ${describe(node)}`,
      'write true or false without quotes',
    );
    return undefined;
  }

  int(entry: { value: Node | null; pos: Pos }, what: string): number | undefined {
    const node = this.resolve(entry.value);
    if (isScalar(node) && typeof node.value === 'number' && Number.isInteger(node.value) && node.value >= 0) {
      return node.value;
    }
    this.bag.error(
      this.pos(node, entry.pos),
      `${what} must be a whole number, got ${describe(node)}`,
      'write a number without quotes, e.g. 0',
    );
    return undefined;
  }

  /** A list of items, where a single item may stand for a one-item list (`needs: a`). */
  list(entry: { value: Node | null; pos: Pos }): { value: Node | null; pos: Pos }[] {
    const node = this.resolve(entry.value);
    if (isSeq(node)) {
      return node.items.map((item) => {
        const resolved = this.resolve(item as Node);
        return { value: resolved, pos: this.pos(resolved, this.pos(node, entry.pos)) };
      });
    }
    if (node === null || (isScalar(node) && node.value === null)) return [];
    return [{ value: node, pos: this.pos(node, entry.pos) }];
  }

  stringList(entry: { value: Node | null; pos: Pos }, what: string): string[] | undefined {
    const items = this.list(entry);
    const out: string[] = [];
    let ok = true;
    for (const item of items) {
      const value = this.name(item, `each item of ${what}`);
      if (value === undefined) ok = false;
      else out.push(value);
    }
    return ok ? out : undefined;
  }

  /** A string map (env): values are text; each value is an expression site. */
  stringMap(
    entry: { value: Node | null; pos: Pos },
    what: string,
    sites: ExprSite[],
  ): Record<string, string> | undefined {
    const node = this.resolve(entry.value);
    if (node === null || (isScalar(node) && node.value === null)) return {};
    const entries = this.entries(node, what, entry.pos);
    if (!entries) return undefined;
    const out: Record<string, string> = {};
    for (const e of entries) {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(e.key)) {
        this.bag.error(
          e.keyPos,
          `'${e.key}' is not a valid variable name in ${what}`,
          'use letters, digits and _, not starting with a digit',
        );
        continue;
      }
      const value = this.text(e, `${what}.${e.key}`);
      if (value === undefined) continue;
      out[e.key] = value;
      sites.push(this.site(e.value, value, e.pos));
    }
    return out;
  }

  site(node: Node | null, text: string, fallback: Pos): ExprSite {
    const pos = this.pos(node, fallback);
    const scalar = isScalar(node) ? node : undefined;
    const source = this.source;
    const lines = this.lines;
    return {
      pos,
      text,
      at(offset: number): Pos {
        if (!scalar?.range) return pos;
        if (scalar.type === Scalar.PLAIN) return { line: pos.line, column: pos.column + offset };
        if (scalar.type === Scalar.QUOTE_DOUBLE || scalar.type === Scalar.QUOTE_SINGLE) {
          return { line: pos.line, column: pos.column + 1 + offset };
        }
        return blockPos(source, lines, pos, text, offset);
      },
    };
  }
}

function blockPos(source: string, lines: LineCounter, start: Pos, text: string, offset: number): Pos {
  const before = text.slice(0, offset);
  const lineInValue = before.split('\n').length - 1;
  const column = offset - (before.lastIndexOf('\n') + 1);
  const line = start.line + 1 + lineInValue;
  const lineStart = lines.lineStarts[line - 1];
  if (lineStart === undefined) return start;
  let indent = 0;
  while (source[lineStart + indent] === ' ') indent++;
  return { line, column: indent + column + 1 };
}

export function describe(node: unknown): string {
  if (node === null || node === undefined) return 'nothing';
  if (isMap(node)) return 'a mapping';
  if (isSeq(node)) return 'a list';
  if (isScalar(node)) {
    const value: unknown = node.value;
    if (value === null) return 'null';
    if (typeof value === 'string')
      return `the string "${value.length > 40 ? value.slice(0, 40) + '…' : value}"`;
    return typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint'
      ? `${typeof value} ${value}`
      : typeof value;
  }
  return 'an unsupported YAML node';
}
