/**
 * GitHub Actions' expression language, for what an `action.yml` holds: input defaults, composite
 * steps (`run`, `with`, `env`, `if`), outputs and docker `args`. Literals, context paths (`a.b`,
 * `a['b']`, `a.*.b`), `! < <= > >= == != && ||`, and the functions contains, startsWith, endsWith,
 * format, join, toJSON, fromJSON, hashFiles, success, always, failure and cancelled. Comparison
 * follows GitHub's rules: strings compare ignoring case, mixed types compare as numbers.
 */
export type Value = null | boolean | number | string | Value[] | { [key: string]: Value };

export interface ExprContext {
  /** Contexts by name: github, inputs, steps, env, runner, job, ... */
  contexts: Record<string, Value>;
  /** The outcome so far, for the status functions. */
  status?: 'success' | 'failure' | 'cancelled';
  /** hashFiles(patterns): the runner provides it (it reads the workspace). */
  hashFiles?: (patterns: string[]) => string;
}

export class ExprError extends Error {}

type Token = { kind: 'num' | 'str' | 'id' | 'op'; text: string; value?: Value };

const OPS = ['==', '!=', '<=', '>=', '&&', '||', '<', '>', '!', '(', ')', '[', ']', '.', ',', '*'];

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i] ?? '';
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === "'") {
      let text = '';
      i++;
      for (;;) {
        if (i >= src.length) throw new ExprError('a string is not closed with a quote');
        if (src[i] === "'" && src[i + 1] === "'") {
          text += "'";
          i += 2;
        } else if (src[i] === "'") {
          i++;
          break;
        } else text += src[i++] ?? '';
      }
      out.push({ kind: 'str', text, value: text });
      continue;
    }
    const num = /^(0x[0-9a-fA-F]+|[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?)/.exec(src.slice(i));
    if (num) {
      out.push({ kind: 'num', text: num[0], value: Number(num[0]) });
      i += num[0].length;
      continue;
    }
    const id = /^[A-Za-z_][A-Za-z0-9_-]*/.exec(src.slice(i));
    if (id) {
      out.push({ kind: 'id', text: id[0] });
      i += id[0].length;
      continue;
    }
    const op = OPS.find((o) => src.startsWith(o, i));
    if (!op) throw new ExprError(`unexpected character '${c}'`);
    out.push({ kind: 'op', text: op });
    i += op.length;
  }
  return out;
}

type Node =
  | { t: 'lit'; v: Value }
  | { t: 'ctx'; name: string }
  | { t: 'get'; obj: Node; key: Node | '*' }
  | { t: 'call'; name: string; args: Node[] }
  | { t: 'not'; x: Node }
  | { t: 'bin'; op: string; a: Node; b: Node };

const LEVELS = [['||'], ['&&'], ['==', '!='], ['<', '<=', '>', '>=']];

function parse(tokens: Token[]): Node {
  let pos = 0;
  const peek = () => tokens[pos];
  const eat = (text: string): boolean => {
    if (peek()?.kind === 'op' && peek()?.text === text) {
      pos++;
      return true;
    }
    return false;
  };
  const expect = (text: string) => {
    if (!eat(text)) throw new ExprError(`expected '${text}'${peek() ? ` before '${peek()?.text}'` : ''}`);
  };
  const binary = (level: number): Node => {
    const ops = LEVELS[level];
    if (!ops) return unary();
    let left = binary(level + 1);
    for (;;) {
      const op = ops.find((o) => peek()?.kind === 'op' && peek()?.text === o);
      if (!op) return left;
      pos++;
      left = { t: 'bin', op, a: left, b: binary(level + 1) };
    }
  };
  const unary = (): Node => (eat('!') ? { t: 'not', x: unary() } : postfix(primary()));
  const postfix = (node: Node): Node => {
    for (;;) {
      if (eat('.')) {
        if (eat('*')) node = { t: 'get', obj: node, key: '*' };
        else {
          const name = peek();
          if (name?.kind !== 'id') throw new ExprError('expected a property name after .');
          pos++;
          node = { t: 'get', obj: node, key: { t: 'lit', v: name.text } };
        }
      } else if (eat('[')) {
        const key = eat('*') ? '*' : binary(0);
        expect(']');
        node = { t: 'get', obj: node, key };
      } else return node;
    }
  };
  const primary = (): Node => {
    const tok = peek();
    if (!tok) throw new ExprError('the expression ends too early');
    pos++;
    if (tok.kind === 'num' || tok.kind === 'str') return { t: 'lit', v: tok.value ?? null };
    if (tok.kind === 'op' && tok.text === '(') {
      const inner = binary(0);
      expect(')');
      return inner;
    }
    if (tok.kind !== 'id') throw new ExprError(`unexpected '${tok.text}'`);
    if (tok.text === 'true' || tok.text === 'false') return { t: 'lit', v: tok.text === 'true' };
    if (tok.text === 'null') return { t: 'lit', v: null };
    if (eat('(')) {
      const args: Node[] = [];
      if (!eat(')')) {
        do args.push(binary(0));
        while (eat(','));
        expect(')');
      }
      return { t: 'call', name: tok.text.toLowerCase(), args };
    }
    return { t: 'ctx', name: tok.text };
  };
  const node = binary(0);
  if (pos < tokens.length) throw new ExprError(`unexpected '${tokens[pos]?.text ?? ''}'`);
  return node;
}

export function truthy(v: Value): boolean {
  return !(v === null || v === false || v === 0 || v === '' || (typeof v === 'number' && Number.isNaN(v)));
}

function toNumber(v: Value): number {
  if (v === null) return 0;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'number') return v;
  if (typeof v === 'string') return v.trim() === '' ? 0 : Number(v);
  return NaN;
}

function compare(a: Value, b: Value): number | undefined {
  if (typeof a === 'string' && typeof b === 'string') {
    const x = a.toUpperCase();
    const y = b.toUpperCase();
    return x === y ? 0 : x < y ? -1 : 1;
  }
  if (typeof a === 'object' && a !== null) return a === b ? 0 : undefined;
  const x = toNumber(a);
  const y = toNumber(b);
  if (Number.isNaN(x) || Number.isNaN(y)) return undefined;
  return x === y ? 0 : x < y ? -1 : 1;
}

/** The text a value becomes inside `${{ }}` in a string. */
export function toText(v: Value): string {
  if (v === null) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean' || typeof v === 'number') return String(v);
  return JSON.stringify(v, null, 2);
}

/** `key` is '*' for the object filter (`a.*`), else the property or index. */
function get(obj: Value, key: Value, filter = false): Value {
  if (filter) {
    if (Array.isArray(obj)) return obj;
    return obj !== null && typeof obj === 'object' ? Object.values(obj) : [];
  }
  if (Array.isArray(obj)) {
    if (typeof key === 'number') return obj[key] ?? null;
    return obj.map((item) => get(item, key)); // a filtered array (a.*.b) dereferences each item
  }
  if (obj === null || typeof obj !== 'object' || typeof key !== 'string') return null;
  const exact = Object.hasOwn(obj, key) ? obj[key] : undefined;
  if (exact !== undefined) return exact;
  const lower = key.toLowerCase();
  const found = Object.keys(obj).find((k) => k.toLowerCase() === lower);
  return found === undefined ? null : (obj[found] ?? null);
}

function evaluate(node: Node, ctx: ExprContext): Value {
  switch (node.t) {
    case 'lit':
      return node.v;
    case 'ctx': {
      const key = Object.keys(ctx.contexts).find((k) => k.toLowerCase() === node.name.toLowerCase());
      if (key === undefined) throw new ExprError(`unknown context '${node.name}'`);
      return ctx.contexts[key] ?? null;
    }
    case 'get': {
      const obj = evaluate(node.obj, ctx);
      return node.key === '*' ? get(obj, null, true) : get(obj, evaluate(node.key, ctx));
    }
    case 'not':
      return !truthy(evaluate(node.x, ctx));
    case 'bin':
      return binaryOp(node.op, node.a, node.b, ctx);
    case 'call':
      return call(node.name, node.args, ctx);
  }
}

function binaryOp(op: string, a: Node, b: Node, ctx: ExprContext): Value {
  const left = evaluate(a, ctx);
  if (op === '&&') return truthy(left) ? evaluate(b, ctx) : left;
  if (op === '||') return truthy(left) ? left : evaluate(b, ctx);
  const c = compare(left, evaluate(b, ctx));
  switch (op) {
    case '==':
      return c === 0;
    case '!=':
      return c !== 0;
    case '<':
      return c !== undefined && c < 0;
    case '<=':
      return c !== undefined && c <= 0;
    case '>':
      return c !== undefined && c > 0;
    default:
      return c !== undefined && c >= 0;
  }
}

function call(name: string, argNodes: Node[], ctx: ExprContext): Value {
  const status = ctx.status ?? 'success';
  const args = argNodes.map((n) => evaluate(n, ctx));
  const [a = null, b = null] = args;
  const lower = (v: Value) => toText(v).toLowerCase();
  switch (name) {
    case 'success':
      return status === 'success';
    case 'failure':
      return status === 'failure';
    case 'cancelled':
      return status === 'cancelled';
    case 'always':
      return true;
    case 'contains':
      return Array.isArray(a) ? a.some((item) => compare(item, b) === 0) : lower(a).includes(lower(b));
    case 'startswith':
      return lower(a).startsWith(lower(b));
    case 'endswith':
      return lower(a).endsWith(lower(b));
    case 'format':
      return format(toText(a), args.slice(1));
    case 'join':
      return Array.isArray(a) ? a.map(toText).join(b === null ? ',' : toText(b)) : toText(a);
    case 'tojson':
      return JSON.stringify(a, null, 2);
    case 'fromjson':
      try {
        return JSON.parse(toText(a)) as Value;
      } catch {
        throw new ExprError(`fromJSON: not JSON: ${toText(a).slice(0, 40)}`);
      }
    case 'hashfiles':
      if (!ctx.hashFiles) throw new ExprError('hashFiles is not available here');
      return ctx.hashFiles(args.map(toText));
    default:
      throw new ExprError(`unknown function '${name}'`);
  }
}

function format(pattern: string, args: Value[]): string {
  return pattern.replace(/\{\{|\}\}|\{(\d+)\}/g, (m, index: string | undefined) => {
    if (m === '{{') return '{';
    if (m === '}}') return '}';
    const i = Number(index);
    if (i >= args.length) throw new ExprError(`format: no argument {${i}}`);
    return toText(args[i] ?? null);
  });
}

/** Evaluates one expression (the text inside `${{ }}`, or a bare `if:` condition). */
export function evaluateExpression(source: string, ctx: ExprContext): Value {
  return evaluate(parse(tokenize(source)), ctx);
}

const TEMPLATE = /\$\{\{([\s\S]*?)\}\}/g;

/** Replaces every `${{ expr }}` in `text` with its value as text. */
export function interpolate(text: string, ctx: ExprContext): string {
  if (!text.includes('${{')) return text;
  return text.replace(TEMPLATE, (_m, inner: string) => toText(evaluateExpression(inner, ctx)));
}

/**
 * An `if:` condition: `${{ }}` optional; without a status function it means `success() && (cond)`,
 * as GitHub reads it. An empty condition is the default given.
 */
export function evaluateCondition(
  condition: string | undefined,
  ctx: ExprContext,
  fallback: string,
): boolean {
  let text = (condition ?? '').trim();
  const whole = /^\$\{\{([\s\S]*)\}\}$/.exec(text);
  if (whole) text = (whole[1] ?? '').trim();
  if (text === '') text = fallback;
  if (!/\b(success|failure|always|cancelled)\s*\(/i.test(text)) text = `success() && (${text})`;
  return truthy(evaluateExpression(text, ctx));
}
