/**
 * The sweep file's schema (zod) and its validation into a SweepSpec: every axis materialised to its
 * list of values, every value checked against its parameter's schema, derived expressions compiled
 * and ordered. Everything that can be checked without expanding the product is checked here, so the
 * errors point at the field that is wrong.
 */
import { z } from 'zod';
import { CONSTANTS, ExpressionError, compileExpression, type CompiledExpression } from './expression.js';
import { AUTO_ENGINE, PARAMS, PARAM_NAMES, REQUIRED_PARAMS, type ParamInfo } from './params.js';
import { batchLattice, type SearchSettings } from '../search/policy.js';
import {
  check,
  describeValue,
  formatPath,
  specError,
  suggest,
  zodErrorMap,
  type PathSegment,
  type SourceContext,
} from './report.js';

export type Scalar = number | string;

/** One axis of the cartesian product: a grid parameter, a zip group or the seeds. */
export interface Axis {
  /** Where it is defined in the file, e.g. ['grid', 'lr'], ['zip', 0], ['repeats']. */
  path: PathSegment[];
  params: string[];
  /** values[i][j] is the value of params[j] at point i of the axis. */
  values: Scalar[][];
}

export interface DerivedParam {
  param: string;
  path: PathSegment[];
  expression: CompiledExpression;
  /** Math.round the result (integer parameter). */
  integer: boolean;
}

/** A validated sweep file, ready to expand. */
export interface SweepSpec {
  context: SourceContext;
  name: string;
  description?: string;
  /** Values common to every task ('auto' engine still unresolved). */
  fixed: Record<string, Scalar>;
  /** In product order: the first axis varies slowest, the last (the seeds, if any) fastest. */
  axes: Axis[];
  /** In evaluation order (dependencies first). */
  derived: DerivedParam[];
  /** Field path where each parameter set by the file is defined. */
  sources: Map<string, PathSegment[]>;
  /** Number of points of the product, before deduplication. */
  size: number;
  /** The parsed file (the object the spec hash is computed from). */
  document: unknown;
  /**
   * Present for an adaptive B_opt search: the axes then end with the batch-size lattice and the seeds
   * 0 .. peak_seeds-1, so the product is every task the search may ever propose.
   */
  search?: SearchSettings & { prior: boolean };
}

/**
 * Refuse sweeps whose product is absurdly large (a typo such as num: 10000 on several axes). The
 * product is streamed into the database, never held in memory, so this bounds disk and time only.
 */
export const MAX_SWEEP_POINTS = 10_000_000;

/**
 * Values one axis may have (repeats, a range's num): an axis is materialised as a list when the file
 * is validated, so this bounds the memory that validation itself can take.
 */
export const MAX_AXIS_VALUES = 1_000_000;

export const SWEEP_NAME_RE = /^[a-z0-9][a-z0-9._-]*$/;

/** Significant digits kept for computed non-integer values (ranges, derived): 0.1*3 becomes 0.3. */
const COMPUTED_DIGITS = 12;

/** A schema-level message: "expected <what>, got <value>" (or "required, ..." when absent). */
const expected =
  (what: string) =>
  (iss: { input?: unknown }): string =>
    iss.input === undefined ? `required, expected ${what}` : `expected ${what}, got ${describeValue(iss.input)}`;

const posInt = () => {
  const error = expected('a positive integer');
  return z.number({ error }).int({ error }).positive({ error });
};
const nonNegInt = () => {
  const error = expected('a non-negative integer');
  return z.number({ error }).int({ error }).nonnegative({ error });
};

const scalar = z.union([z.number(), z.string(), z.boolean()], {
  error: (iss) => `expected a number or a string, got ${describeValue(iss.input)}`,
});

const sweepFileSchema = z.strictObject({
  name: z.string().regex(SWEEP_NAME_RE, {
    error: 'expected a name of lowercase letters, digits, ".", "_" or "-" starting with a letter or digit',
  }),
  description: z.string().optional(),
  fixed: z.record(z.string(), scalar).nullish(),
  grid: z.record(z.string(), z.unknown()).nullish(),
  zip: z.array(z.record(z.string(), z.unknown())).nullish(),
  // Bounded here, before any list is built: a typo such as 1000000000 must not exhaust memory.
  repeats: posInt()
    .max(MAX_AXIS_VALUES, { error: expected(`at most ${MAX_AXIS_VALUES}`) })
    .optional(),
  seeds: z.array(nonNegInt()).min(1).optional(),
  derived: z.record(z.string(), z.string()).nullish(),
  search: z.unknown().optional(),
});

const positive = () => {
  const error = expected('a number > 0');
  return z.number({ error }).positive({ error });
};

/** The `search:` section: find the batch size of highest mean test accuracy in every group. */
const searchSchema = z.strictObject({
  from: posInt(),
  to: posInt(),
  /** B_opt wanted within this factor (the lattice ratio). */
  resolution: positive().default(1.25),
  coarse: posInt().default(6),
  seeds: posInt().default(2),
  peak_seeds: posInt().default(5),
  noise_z: positive().default(1),
  max_tasks: posInt().default(60),
  /** Most passes over the training set one group's tasks may make together (no limit when absent). */
  max_epochs: positive().optional(),
  /** Most training examples (steps x min(B, N), summed) one group's tasks may process (no limit when absent). */
  max_examples: positive().optional(),
  /** Start later groups around the theory's prediction from the groups already searched. */
  prior: z.boolean().default(true),
});

export const SWEEP_KEYS: readonly string[] = Object.keys(sweepFileSchema.shape);

const rangeBody = z.strictObject({
  from: z.number(),
  to: z.number(),
  num: posInt().max(MAX_AXIS_VALUES, { error: expected(`at most ${MAX_AXIS_VALUES}`) }),
  /** Round every value to an integer (automatic for integer parameters). Duplicates are dropped. */
  round: z.boolean().optional(),
});
const listAxisSchema = z.array(scalar).min(1, { error: 'expected a non-empty list of values' });
const logAxisSchema = z.strictObject({ log: rangeBody });
const linearAxisSchema = z.strictObject({ linear: rangeBody });

type RangeKind = 'log' | 'linear';

function cleanComputed(v: number, integer: boolean): number {
  if (integer) return Math.round(v) + 0; // + 0 turns -0 into 0
  return Number(v.toPrecision(COMPUTED_DIGITS)) + 0;
}

/**
 * num values from `from` to `to` inclusive (both ends exact): evenly spaced, or evenly spaced in
 * log10 for log ranges.
 */
export function rangeValues(kind: RangeKind, from: number, to: number, num: number): number[] {
  if (num === 1) return [from];
  const out: number[] = [];
  const a = kind === 'log' ? Math.log10(from) : from;
  const b = kind === 'log' ? Math.log10(to) : to;
  for (let i = 0; i < num; i++) {
    if (i === num - 1) {
      out.push(to);
      continue;
    }
    const x = a + ((b - a) * i) / (num - 1);
    out.push(kind === 'log' ? Math.pow(10, x) : x);
  }
  return out;
}

function paramInfo(ctx: SourceContext, name: string, path: PathSegment[]): ParamInfo {
  const info = PARAMS.get(name);
  if (!info) throw specError(ctx, path, `unknown parameter ${JSON.stringify(name)}${suggest(name, PARAM_NAMES)}`);
  return info;
}

/** YAML reads `labels: true` as a boolean; string-valued parameters take it as the string. */
function normalizeScalar(info: ParamInfo, v: unknown): unknown {
  if (typeof v === 'boolean' && !info.numeric) return String(v);
  return v;
}

/** Check one value against its parameter's schema; `note` explains computed values. */
function checkValue(ctx: SourceContext, info: ParamInfo, value: unknown, path: PathSegment[], note = ''): Scalar {
  if (info.name === 'engine' && value === AUTO_ENGINE) return value;
  const r = info.schema.safeParse(value, { error: zodErrorMap, reportInput: true });
  if (!r.success) {
    let message = r.error.issues[0].message;
    if (info.name === 'engine') message = message.replace('expected one of ', `expected ${AUTO_ENGINE} or one of `);
    throw specError(ctx, path, `${message}${note}`);
  }
  return value as Scalar;
}

/** Materialise one grid or zip entry into its list of values. */
function axisValues(
  ctx: SourceContext,
  info: ParamInfo,
  spec: unknown,
  path: PathSegment[],
  dedupe: boolean,
): Scalar[] {
  if (Array.isArray(spec)) {
    const list = check(ctx, listAxisSchema, spec, path);
    return list.map((v, i) => checkValue(ctx, info, normalizeScalar(info, v), [...path, i]));
  }
  const isMapping = typeof spec === 'object' && spec !== null;
  const kind: RangeKind | undefined =
    isMapping && 'log' in spec ? 'log' : isMapping && 'linear' in spec ? 'linear' : undefined;
  if (!kind) {
    const hint = isMapping ? '' : ' (a single value belongs in fixed)';
    throw specError(
      ctx,
      path,
      `expected a list of values, {log: {from, to, num}} or {linear: {from, to, num}}, got ${describeValue(spec)}${hint}`,
    );
  }
  const body =
    kind === 'log' ? check(ctx, logAxisSchema, spec, path).log : check(ctx, linearAxisSchema, spec, path).linear;
  if (!info.numeric) {
    throw specError(
      ctx,
      path,
      `${JSON.stringify(info.name)} is not numeric: give a list of values instead of a ${kind} range`,
    );
  }
  if (kind === 'log') {
    for (const end of ['from', 'to'] as const) {
      if (!(body[end] > 0))
        throw specError(ctx, [...path, kind, end], `expected a number > 0 for a log range, got ${body[end]}`);
    }
  }
  const integer = info.integer || body.round === true;
  const values: number[] = [];
  const seen = new Set<number>();
  for (const raw of rangeValues(kind, body.from, body.to, body.num)) {
    const v = cleanComputed(raw, integer);
    if (dedupe) {
      if (seen.has(v)) continue;
      seen.add(v);
    }
    const note = v !== raw ? ` (computed ${raw}${integer ? ', rounded' : ''})` : '';
    values.push(checkValue(ctx, info, v, [...path, kind], note) as number);
  }
  return values;
}

/** Order derived parameters so that each comes after the derived parameters it uses. */
function orderDerived(ctx: SourceContext, derived: DerivedParam[]): DerivedParam[] {
  const byName = new Map(derived.map((d) => [d.param, d]));
  const state = new Map<string, 'visiting' | 'done'>();
  const out: DerivedParam[] = [];
  const visit = (d: DerivedParam, chain: string[]): void => {
    const s = state.get(d.param);
    if (s === 'done') return;
    if (s === 'visiting') {
      const cycle = [...chain.slice(chain.indexOf(d.param)), d.param];
      throw specError(ctx, d.path, `circular definition: ${cycle.join(' -> ')}`);
    }
    state.set(d.param, 'visiting');
    for (const v of d.expression.variables) {
      const dep = byName.get(v.name);
      if (dep) visit(dep, [...chain, d.param]);
    }
    state.set(d.param, 'done');
    out.push(d);
  };
  for (const d of derived) visit(d, []);
  return out;
}

/**
 * The number of points of the product of `axes`, refused above MAX_SWEEP_POINTS. Checked after every
 * axis too (`complete` false: more axes may follow), so a file of several huge axes fails before the
 * later ones are materialised.
 */
function checkProduct(ctx: SourceContext, axes: readonly Axis[], complete: boolean): number {
  let size = 1;
  for (const a of axes) size *= a.values.length;
  if (size > MAX_SWEEP_POINTS) {
    const shape = axes.map((a) => a.values.length).join(' x ');
    throw specError(
      ctx,
      [],
      `the sweep has ${complete ? '' : 'at least '}${size} points (${shape}); the limit is ${MAX_SWEEP_POINTS}`,
    );
  }
  return size;
}

/** Validate a parsed sweep document. Throws a one-line InputError naming the file and field. */
export function validateSweep(document: unknown, ctx: SourceContext): SweepSpec {
  if (document === null || document === undefined) {
    throw specError(
      ctx,
      [],
      `the file is empty: expected a mapping with at least "name" (keys: ${SWEEP_KEYS.join(', ')})`,
    );
  }
  if (typeof document !== 'object' || Array.isArray(document)) {
    throw specError(
      ctx,
      [],
      `expected a mapping at the top level (keys: ${SWEEP_KEYS.join(', ')}), got ${describeValue(document)}`,
    );
  }
  const file = check(ctx, sweepFileSchema, document, []);

  const sources = new Map<string, PathSegment[]>();
  const claim = (name: string, path: PathSegment[]): ParamInfo => {
    const info = paramInfo(ctx, name, path);
    const previous = sources.get(name);
    if (previous) {
      throw specError(
        ctx,
        path,
        `parameter ${JSON.stringify(name)} is already set in ${formatPath(previous)} (set each parameter in one place)`,
      );
    }
    sources.set(name, path);
    return info;
  };

  const fixed: Record<string, Scalar> = {};
  for (const [name, value] of Object.entries(file.fixed ?? {})) {
    const path = ['fixed', name];
    const info = claim(name, path);
    fixed[name] = checkValue(ctx, info, normalizeScalar(info, value), path);
  }

  const axes: Axis[] = [];
  for (const [name, spec] of Object.entries(file.grid ?? {})) {
    const path = ['grid', name];
    const info = claim(name, path);
    const values = axisValues(ctx, info, spec, path, true);
    axes.push({ path, params: [name], values: values.map((v) => [v]) });
    checkProduct(ctx, axes, false);
  }

  (file.zip ?? []).forEach((group, g) => {
    const names = Object.keys(group);
    if (names.length === 0)
      throw specError(ctx, ['zip', g], 'expected a mapping of parameters to lists of values, got an empty mapping');
    const columns: Scalar[][] = [];
    let first: { name: string; length: number } | undefined;
    for (const name of names) {
      const path = ['zip', g, name];
      const info = claim(name, path);
      const column = axisValues(ctx, info, group[name], path, false);
      if (first && column.length !== first.length) {
        throw specError(
          ctx,
          path,
          `zipped lists must have the same length: ${formatPath(['zip', g, first.name])} has ${first.length} values, ` +
            `${name} has ${column.length}`,
        );
      }
      first ??= { name, length: column.length };
      columns.push(column);
    }
    const values = columns[0].map((_, i) => columns.map((c) => c[i]));
    axes.push({ path: ['zip', g], params: names, values });
    checkProduct(ctx, axes, false);
  });

  if (file.repeats !== undefined && file.seeds !== undefined) {
    throw specError(ctx, ['seeds'], 'give either repeats or seeds, not both');
  }
  const seedPath: PathSegment[] | undefined =
    file.repeats !== undefined ? ['repeats'] : file.seeds !== undefined ? ['seeds'] : undefined;
  if (seedPath) {
    const previous = sources.get('seed');
    if (previous) {
      throw specError(
        ctx,
        seedPath,
        `the seed is already set in ${formatPath(previous)} (use either ${formatPath(seedPath)} or seed)`,
      );
    }
    sources.set('seed', seedPath);
    const seeds = file.repeats !== undefined ? Array.from({ length: file.repeats }, (_, i) => i) : file.seeds!;
    axes.push({ path: seedPath, params: ['seed'], values: seeds.map((s) => [s]) });
  }

  let search: SweepSpec['search'];
  if (file.search !== undefined) {
    const body = check(ctx, searchSchema, file.search, ['search']);
    if (!(body.resolution > 1))
      throw specError(ctx, ['search', 'resolution'], `expected a factor > 1, got ${body.resolution}`);
    if (!(body.to > body.from))
      throw specError(ctx, ['search', 'to'], `expected a number > from (${body.from}), got ${body.to}`);
    if (body.peak_seeds < body.seeds)
      throw specError(ctx, ['search', 'peak_seeds'], `expected at least seeds (${body.seeds}), got ${body.peak_seeds}`);
    for (const name of ['batch_size', 'seed']) {
      const previous = sources.get(name);
      if (previous)
        throw specError(
          ctx,
          previous,
          `${name} is chosen by the search section; remove it from ${formatPath(previous)}`,
        );
    }
    search = {
      from: body.from,
      to: body.to,
      resolution: body.resolution,
      coarse: body.coarse,
      seeds: body.seeds,
      peakSeeds: body.peak_seeds,
      noiseZ: body.noise_z,
      maxTasks: body.max_tasks,
      ...(body.max_epochs !== undefined ? { maxEpochs: body.max_epochs } : {}),
      ...(body.max_examples !== undefined ? { maxExamples: body.max_examples } : {}),
      prior: body.prior,
    };
    const batchInfo = claim('batch_size', ['search', 'from']);
    const lattice = batchLattice(search).map((b) => checkValue(ctx, batchInfo, b, ['search', 'from']));
    axes.push({ path: ['search', 'from'], params: ['batch_size'], values: lattice.map((b) => [b]) });
    sources.set('seed', ['search', 'peak_seeds']);
    axes.push({
      path: ['search', 'peak_seeds'],
      params: ['seed'],
      values: Array.from({ length: search.peakSeeds }, (_, i) => [i]),
    });
  }

  const derivedList: DerivedParam[] = [];
  for (const [name, text] of Object.entries(file.derived ?? {})) {
    const path = ['derived', name];
    const info = claim(name, path);
    if (!info.numeric)
      throw specError(ctx, path, `only numeric parameters can be derived; ${JSON.stringify(name)} is not numeric`);
    let expression: CompiledExpression;
    try {
      expression = compileExpression(text);
    } catch (e) {
      if (e instanceof ExpressionError) throw specError(ctx, path, `${e.message} in ${JSON.stringify(text)}`);
      throw e;
    }
    derivedList.push({ param: name, path, expression, integer: info.integer });
  }
  // Variables are checked once every section has been read (a derived parameter may use any other).
  for (const d of derivedList) {
    for (const v of d.expression.variables) {
      const info = PARAMS.get(v.name);
      const where = `at column ${v.column} in ${JSON.stringify(d.expression.text)}`;
      if (!info) {
        throw specError(
          ctx,
          d.path,
          `unknown variable ${JSON.stringify(v.name)} ${where}${suggest(v.name, [...PARAM_NAMES, ...Object.keys(CONSTANTS)])}`,
        );
      }
      if (!info.numeric) throw specError(ctx, d.path, `variable ${JSON.stringify(v.name)} ${where} is not numeric`);
      if (!sources.has(v.name) && !info.hasDefault) {
        throw specError(
          ctx,
          d.path,
          `variable ${JSON.stringify(v.name)} ${where} has no value: it is not set in this sweep and has no default`,
        );
      }
    }
  }
  const derived = orderDerived(ctx, derivedList);

  if (!sources.has('seed')) fixed.seed = 0; // no seeds given: one run with seed 0
  for (const name of REQUIRED_PARAMS) {
    if (name === 'engine' || name === 'seed' || sources.has(name)) continue;
    throw specError(
      ctx,
      ['fixed'],
      `missing required parameter ${JSON.stringify(name)} (set it in fixed, grid, zip or derived)`,
    );
  }

  const size = checkProduct(ctx, axes, true);

  return {
    context: ctx,
    name: file.name,
    ...(file.description !== undefined ? { description: file.description } : {}),
    fixed,
    axes,
    derived,
    sources,
    size,
    document,
    ...(search ? { search } : {}),
  };
}
