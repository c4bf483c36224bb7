/**
 * One-line error messages for sweep files: `<file>: <field path>: <what was expected>, got <value>`,
 * with ` (line N)` appended when the field can be located in the file.
 */
import type { z } from 'zod';
import { InputError } from '../errors.js';

export type PathSegment = string | number;

/** Finds the 1-based line of a field path in the source text, when known. */
export type Locator = (path: readonly PathSegment[]) => number | undefined;

/** Where a sweep came from, for error messages. */
export interface SourceContext {
  /** The file name as shown to the user (relative to the working directory when inside it). */
  file: string;
  locate?: Locator;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** `grid.batch_size.log.num`, `zip[0].steps`, `fixed["odd key"]`. */
export function formatPath(path: readonly PathSegment[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (IDENTIFIER.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

/** A short rendering of a value found in the file: strings quoted, containers by kind. */
export function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null (an empty value)';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return v.length === 0 ? 'an empty list' : 'a list';
  if (typeof v === 'object') return 'a mapping';
  return typeof v;
}

export function specError(ctx: SourceContext, path: readonly PathSegment[], message: string): InputError {
  const where = path.length > 0 ? `${formatPath(path)}: ` : '';
  let line: number | undefined;
  try {
    line = ctx.locate?.(path);
  } catch {
    line = undefined;
  }
  return new InputError(`${ctx.file}: ${where}${message}${line !== undefined ? ` (line ${line})` : ''}`);
}

const TYPE_NAMES: Record<string, string> = {
  number: 'a number',
  int: 'an integer',
  string: 'a string',
  boolean: 'true or false',
  object: 'a mapping',
  record: 'a mapping',
  array: 'a list',
};

function bound(iss: { minimum?: unknown; maximum?: unknown; inclusive?: boolean }, lower: boolean): string {
  const value = lower ? iss.minimum : iss.maximum;
  const op = lower ? (iss.inclusive ? '>=' : '>') : iss.inclusive ? '<=' : '<';
  return `${op} ${String(value)}`;
}

type RawIssue = z.core.$ZodRawIssue;

/**
 * Per-parse zod error map: turns an issue into "expected ..., got ..." (schema-level messages, where a
 * schema sets one, take precedence over this).
 */
export function zodErrorMap(iss: RawIssue): string | undefined {
  const input = iss.input;
  switch (iss.code) {
    case 'invalid_type': {
      const expected = TYPE_NAMES[iss.expected] ?? iss.expected;
      if (input === undefined) return `required, expected ${expected}`;
      return `expected ${expected}, got ${describeValue(input)}`;
    }
    case 'too_small':
      if (iss.origin === 'array') {
        return Number(iss.minimum) <= 1
          ? 'expected a non-empty list'
          : `expected at least ${String(iss.minimum)} items`;
      }
      if (iss.origin === 'string') return 'expected a non-empty string';
      return `expected a number ${bound(iss, true)}, got ${describeValue(input)}`;
    case 'too_big':
      if (iss.origin === 'array') return `expected at most ${String(iss.maximum)} items`;
      return `expected a number ${bound(iss, false)}, got ${describeValue(input)}`;
    case 'invalid_value':
      return `expected one of ${iss.values.map((v) => String(v)).join(', ')}, got ${describeValue(input)}`;
    case 'unrecognized_keys': {
      const shape = (iss.inst as { shape?: Record<string, unknown> } | undefined)?.shape;
      const known = shape ? ` (expected one of: ${Object.keys(shape).join(', ')})` : '';
      return `unknown key ${JSON.stringify(iss.keys[0])}${known}`;
    }
    case 'invalid_union':
      return `unexpected value ${describeValue(input)}`;
    default:
      return undefined;
  }
}

/** Parse with zod; on failure throw a one-line InputError for the first issue, prefixed with `base`. */
export function check<T extends z.ZodType>(
  ctx: SourceContext,
  schema: T,
  value: unknown,
  base: readonly PathSegment[],
): z.output<T> {
  const r = schema.safeParse(value, { error: zodErrorMap, reportInput: true });
  if (r.success) return r.data;
  // An unknown key explains a missing one (a typo such as `n:` for `num:`): report it first.
  const iss = r.error.issues.find((i) => i.code === 'unrecognized_keys') ?? r.error.issues[0];
  const path: PathSegment[] = [...base, ...(iss.path as PathSegment[])];
  if (iss.code === 'unrecognized_keys') path.push(iss.keys[0]);
  throw specError(ctx, path, iss.message);
}

/** Edit distance, for "did you mean" hints. */
export function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0];
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j];
      prev[j] = Math.min(prev[j] + 1, prev[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length];
}

/** ` (did you mean "lr"? known: a, b, c)` */
export function suggest(name: string, known: readonly string[]): string {
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const d = editDistance(name.toLowerCase(), k.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = k;
    }
  }
  const hint =
    best !== undefined && bestD <= Math.max(1, Math.floor(name.length / 3)) ? `did you mean "${best}"? ` : '';
  return ` (${hint}known: ${known.join(', ')})`;
}
