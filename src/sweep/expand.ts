/**
 * Expansion of a validated sweep into its tasks: the cartesian product of the axes (first axis
 * slowest, seeds fastest), derived parameters computed per point, `engine: auto` resolved, every task
 * validated and defaulted by parseTrainConfig's schema, identified by taskKey and deduplicated (the
 * first occurrence is kept).
 */
import { configConflicts, trainConfigSchema, type EngineName, type TrainConfig } from '../engines/config.js';
import { defaultEngine } from '../engines/registry.js';
import { COST_PARAMS, estimateCost } from './cost.js';
import { CanonicalShape, canonicalJson, keyOfJson, taskIdentity } from './identity.js';
import { AUTO_ENGINE, PARAMS } from './params.js';
import { specError, zodErrorMap, type PathSegment } from './report.js';
import type { Scalar, SweepSpec } from './schema.js';
import type { z } from 'zod';
import type { ExpandedTask, LongestTask } from './types.js';

export interface ExpandOptions {
  /** Engine that `engine: auto` (or no engine) resolves to; default: defaultEngine() of the registry. */
  defaultEngine?: EngineName;
}

/** Significant digits kept for non-integer derived values (as for ranges). */
const COMPUTED_DIGITS = 12;
/** A checked pass compares its fast result with the schema's parse every this many points. */
const RECHECK_EVERY = 4096;

/**
 * The parsed form of a point built without the schema: the schema validates and fills defaults but
 * transforms no value, and every point of a grid sets the same parameters, so a parsed point is its
 * raw values plus the defaults the first point received, in the schema's key order. Used for the
 * points after the first, either already checked (checkPoints passed) or checked by FieldChecks and
 * configConflicts; every RECHECK_EVERY-th point is compared with the schema's own parse.
 */
class CheckedPoint {
  private readonly keys: string[];
  private readonly given: boolean[];
  private readonly defaults: unknown[];

  constructor(raw: Record<string, unknown>, parsed: TrainConfig) {
    const out = parsed as unknown as Record<string, unknown>;
    this.keys = Object.keys(out);
    this.given = this.keys.map((k) => k in raw);
    this.defaults = this.keys.map((k) => out[k]);
  }

  build(raw: Record<string, unknown>): TrainConfig {
    const out: Record<string, unknown> = {};
    for (let i = 0; i < this.keys.length; i++) {
      const k = this.keys[i];
      out[k] = this.given[i] ? raw[k] : this.defaults[i];
    }
    return out as unknown as TrainConfig;
  }
}

/** Values remembered per parameter: a grid repeats a few values; a fine range is checked uncached. */
const MAX_REMEMBERED_VALUES = 4096;
const FIELD_SCHEMAS = trainConfigSchema.shape as unknown as Record<string, z.ZodType | undefined>;

/**
 * The schema's checks of one parameter at a time, each value checked once: a parameter's schema
 * does not depend on the others (the constraints between them are configConflicts), so a point
 * whose every value passed is valid once its conflicts are none. A value the schema would change
 * (none today) counts as invalid, so that the schema then parses the point.
 */
class FieldChecks {
  private readonly known = new Map<string, Map<unknown, boolean>>();

  allValid(raw: Record<string, unknown>): boolean {
    for (const k in raw) {
      const v = raw[k];
      let values = this.known.get(k);
      if (!values) this.known.set(k, (values = new Map()));
      let ok = values.get(v);
      if (ok === undefined) {
        const schema = FIELD_SCHEMAS[k];
        const parsed = schema?.safeParse(v);
        ok = parsed !== undefined && parsed.success && Object.is(parsed.data, v);
        if (values.size < MAX_REMEMBERED_VALUES) values.set(v, ok);
      }
      if (!ok) return false;
    }
    return true;
  }
}

/** Whether two parsed points have the same parameters with the same values in the same order. */
function samePoint(a: TrainConfig, b: TrainConfig): boolean {
  const x = a as unknown as Record<string, unknown>;
  const y = b as unknown as Record<string, unknown>;
  const keys = Object.keys(x);
  const other = Object.keys(y);
  return keys.length === other.length && keys.every((k, i) => other[i] === k && Object.is(x[k], y[k]));
}

function describeTask(spec: SweepSpec, raw: Record<string, unknown>, index: number, extra?: string): string {
  const shown: string[] = [];
  for (const a of spec.axes) shown.push(...a.params);
  for (const d of spec.derived) shown.push(d.param);
  if (extra && !shown.includes(extra)) shown.push(extra);
  const parts = shown.map((p) => `${p}=${raw[p] === undefined ? '(unset)' : String(raw[p])}`);
  return `task ${index + 1}${parts.length > 0 ? ` (${parts.join(', ')})` : ''}`;
}

/** What points() makes of each point: a task, or the parameters alone (see streamTasks, checkPoints). */
interface PointSink<T> {
  /** Whether `full` gets the point's canonical JSON (else undefined). */
  readonly json: boolean;
  /** A point with its parameters, validated and defaulted. */
  full(params: TrainConfig, json: string | undefined): T;
  /**
   * A point of a checked grid (checkPoints passed) without its parameters object, which costs about a
   * fifth of the expansion: its raw values (engine resolved, no defaults) and its canonical JSON.
   * Undefined to have the object built and given to `full`. Used only where `json` is set.
   */
  fast?(raw: Readonly<Record<string, unknown>>, json: string): T | undefined;
}

/** The parameters that differ between the points of a grid: every other key has one value in all. */
function pointVarying(spec: SweepSpec): Set<string> {
  const varying = new Set<string>(spec.derived.map((d) => d.param));
  for (const a of spec.axes) for (const p of a.params) varying.add(p);
  return varying;
}

/**
 * Every point of the product in order, validated and defaulted (one-line error naming the first bad
 * point), as `sink` makes it. One object at a time: nothing proportional to the grid is kept.
 */
function* points<T>(
  spec: SweepSpec,
  options: ExpandOptions,
  checked: boolean,
  sink: PointSink<T>,
  from = 0,
): Generator<T> {
  const ctx = spec.context;
  const axes = spec.axes;
  const derived = spec.derived;
  let engine: EngineName | undefined;
  const resolveEngine = (): EngineName => (engine ??= options.defaultEngine ?? defaultEngine());

  // Plain keyed stores into a fresh object: measured ~10x faster than object spread here, and the
  // resulting objects keep fast properties, which makes zod's parse ~3x faster too.
  const baseKeys = Object.keys(spec.fixed);
  const baseValues = baseKeys.map((k) => spec.fixed[k]);
  const defaults = new Map<string, number>();
  for (const d of derived) {
    for (const v of d.expression.variables) {
      const info = PARAMS.get(v.name);
      if (info?.hasDefault && typeof info.defaultValue === 'number') defaults.set(v.name, info.defaultValue);
    }
  }

  // The axes' indices of point `from` (the last axis fastest). Nothing else depends on the points
  // before it: a stream from `from` is the tail of the whole stream.
  const index = new Array<number>(axes.length).fill(0);
  for (let a = axes.length - 1, rest = from; a >= 0; a--) {
    index[a] = rest % axes[a].values.length;
    rest = Math.floor(rest / axes[a].values.length);
  }
  const total = spec.size;
  let fast: CheckedPoint | undefined;
  let shape: CanonicalShape | undefined;
  const fields = checked ? undefined : new FieldChecks();
  const unbuilt = checked && sink.json ? sink.fast : undefined;

  for (let t = from; t < total; t++) {
    const raw: Record<string, unknown> = {};
    for (let b = 0; b < baseKeys.length; b++) raw[baseKeys[b]] = baseValues[b];
    for (let a = 0; a < axes.length; a++) {
      const axis = axes[a];
      const row = axis.values[index[a]];
      for (let j = 0; j < axis.params.length; j++) raw[axis.params[j]] = row[j];
    }
    for (let a = axes.length - 1; a >= 0; a--) {
      if (++index[a] < axes[a].values.length) break;
      index[a] = 0;
    }

    for (const d of derived) {
      const value = d.expression.evaluate((name) => {
        const v = raw[name];
        return typeof v === 'number' ? v : (defaults.get(name) as number);
      });
      if (!Number.isFinite(value)) {
        throw specError(
          ctx,
          d.path,
          `${JSON.stringify(d.expression.text)} gives ${value} for ${describeTask(spec, raw, t)}`,
        );
      }
      raw[d.param] = d.integer ? Math.round(value) + 0 : Number(value.toPrecision(COMPUTED_DIGITS)) + 0;
    }

    if (raw.engine === undefined || raw.engine === AUTO_ENGINE) raw.engine = resolveEngine();

    if (fast && t % RECHECK_EVERY !== 0) {
      if (unbuilt) {
        // The varying values of a built point are its raw values: its JSON needs no object.
        const text = shape!.encode(raw);
        const made = text === undefined ? undefined : unbuilt.call(sink, raw, text);
        if (made !== undefined) {
          yield made;
          continue;
        }
      }
      const point = fields && !fields.allValid(raw) ? undefined : fast.build(raw);
      // An invalid point goes through the schema, which words its error.
      if (fields && !(point && configConflicts(point).length === 0))
        yield sink.full(parsePoint(spec, raw, t), undefined);
      else yield sink.full(point!, shape?.encode(point!));
    } else {
      const parsed = parsePoint(spec, raw, t);
      if (!fast) {
        fast = new CheckedPoint(raw, parsed);
        if (sink.json) shape = new CanonicalShape(parsed, pointVarying(spec));
      } else if (!samePoint(fast.build(raw), parsed))
        throw new Error(`internal error: the fast parse of ${describeTask(spec, raw, t)} differs from the schema's`);
      let text: string | undefined;
      if (shape) {
        text = canonicalJson(parsed);
        if (shape.encode(raw) !== text || shape.encode(parsed) !== text)
          throw new Error(`internal error: the fast JSON of ${describeTask(spec, raw, t)} differs from canonicalJson`);
      }
      yield sink.full(parsed, text);
    }
  }
}

/** One point through the schema: validated and defaulted, or the one-line error naming it. */
function parsePoint(spec: SweepSpec, raw: Record<string, unknown>, t: number): TrainConfig {
  // Plain safeParse keeps zod's fast path; parse again with the error map only to word a failure.
  const parsed = trainConfigSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const again = trainConfigSchema.safeParse(raw, { error: zodErrorMap, reportInput: true });
  const iss = (again.error ?? parsed.error).issues[0];
  const param = typeof iss.path[0] === 'string' ? iss.path[0] : undefined;
  const source: PathSegment[] = (param && spec.sources.get(param)) || ['fixed'];
  const label = param && source[source.length - 1] !== param ? `${param}: ` : '';
  throw specError(spec.context, source, `invalid ${describeTask(spec, raw, t, param)}: ${label}${iss.message}`);
}

/** The longest of a list of tasks' parameters (null for none). */
export function longestTaskOf(params: Iterable<TrainConfig>): LongestTask | null {
  let longest: LongestTask | null = null;
  for (const p of params) {
    const batch = Math.min(p.batch_size, p.n_train);
    const examples = p.steps * batch;
    if (!longest || examples > longest.examples) longest = { steps: p.steps, batch, examples };
  }
  return longest;
}

/**
 * Check every point of the product without building tasks (no keys, nothing kept): a sweep is
 * refused with the error of its first bad point before anything of it is stored. Returns the longest
 * task, found in the same pass (for the long-task warning, without a second pass over a large grid).
 */
export function checkPoints(spec: SweepSpec, options: ExpandOptions = {}): LongestTask | null {
  return longestTaskOf(points(spec, options, false, { json: false, full: (params) => params }));
}

/** A task's key and stored columns without its parameters object (what ./batches.ts sends). */
export interface TaskRow {
  key: string;
  paramsJson: string;
  engine: EngineName;
  cost: number;
}

/**
 * The tasks of the product in order, one at a time, duplicates included (a point with the key of an
 * earlier one; whoever stores them keeps the first). The n-th task yielded is point n of the product.
 * `checked`: checkPoints has passed this spec with these options, so the points need not go through
 * the schema again (see CheckedPoint).
 */
export function* streamTasks(spec: SweepSpec, options: ExpandOptions = {}, checked = false): Generator<ExpandedTask> {
  yield* points(spec, options, checked, {
    json: true,
    full: (params, json) => {
      const { key, paramsJson } = taskIdentity(params, json);
      return { key, params, paramsJson, cost: estimateCost(params) };
    },
  });
}

/**
 * streamTasks as rows, from point `from` on: the same keys, JSONs, engines and costs, but the points
 * of a checked grid are not built into objects where their cost is known without one (no parameter
 * it depends on varies: see COST_PARAMS).
 */
export function* streamTaskRows(
  spec: SweepSpec,
  options: ExpandOptions = {},
  checked = false,
  from = 0,
): Generator<TaskRow> {
  const varying = pointVarying(spec);
  const costVaries = COST_PARAMS.some((p) => varying.has(p));
  let cost: number | undefined;
  yield* points<TaskRow>(
    spec,
    options,
    checked,
    {
      json: true,
      full: (params, json) => {
        const { key, paramsJson } = taskIdentity(params, json);
        const c = estimateCost(params);
        if (!costVaries) cost ??= c;
        return { key, paramsJson, engine: params.engine, cost: c };
      },
      fast: (raw, json) => {
        if (cost === undefined) return undefined;
        const engine = raw.engine as EngineName;
        return { key: keyOfJson(engine, json), paramsJson: json, engine, cost };
      },
    },
    from,
  );
}

/** Expand a validated sweep into its deduplicated tasks, in deterministic order. */
export function expandSweep(spec: SweepSpec, options: ExpandOptions = {}, checked = false): ExpandedTask[] {
  const tasks: ExpandedTask[] = [];
  const seen = new Set<string>();
  for (const task of streamTasks(spec, options, checked)) {
    if (seen.has(task.key)) continue;
    seen.add(task.key);
    tasks.push(task);
  }
  return tasks;
}

/** Parameters that take more than one value across the tasks, in parameter-schema order. */
export function varyingParams(tasks: readonly ExpandedTask[]): string[] {
  if (tasks.length === 0) return [];
  const first = tasks[0].params as unknown as Record<string, Scalar>;
  const names = Object.keys(first);
  return names.filter((n) => tasks.some((t) => (t.params as unknown as Record<string, Scalar>)[n] !== first[n]));
}
