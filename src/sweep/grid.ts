/**
 * A sweep read from a file, kept as its validated grid rather than its list of tasks: a run streams
 * the tasks into the database, so a grid of millions of points never exists in memory at once. The
 * list is built only when something reads `tasks` (a search, a plan, a test).
 */
import type { EngineName } from '../engines/config.js';
import { defaultEngine } from '../engines/registry.js';
import { checkPoints, expandSweep, streamTasks, varyingParams, type ExpandOptions } from './expand.js';
import { expandInWorker } from './batches.js';
import { AUTO_ENGINE } from './params.js';
import type { SweepSpec } from './schema.js';
import type { ExpandedTask, GridSource, LoadedSweep, LongestTask, TaskBatches, WorkerBatchOptions } from './types.js';

interface SweepFields {
  name: string;
  file: string;
  specText: string;
  specHash: string;
  /** The text the spec was validated from, where it was (see batches()). */
  source?: GridSource;
}

/** The engines a validated spec's tasks use, `auto` resolved; without expanding the product. */
function specEngines(spec: SweepSpec, resolveAuto: () => EngineName): EngineName[] {
  const axis = spec.axes.find((a) => a.params.includes('engine'));
  const named = axis
    ? axis.values.map((row) => row[axis.params.indexOf('engine')])
    : [spec.fixed.engine ?? AUTO_ENGINE];
  return [...new Set(named.map((e) => (e === AUTO_ENGINE ? resolveAuto() : (e as EngineName))))];
}

export class GridSweep implements LoadedSweep {
  readonly name: string;
  readonly file: string;
  readonly specText: string;
  readonly specHash: string;
  readonly description?: string;
  readonly search?: LoadedSweep['search'];
  /** Points of the product, before deduplication. */
  readonly size: number;
  readonly engines: readonly EngineName[];
  readonly #spec: SweepSpec;
  readonly #options: ExpandOptions;
  readonly #source: GridSource | undefined;
  #tasks: ExpandedTask[] | undefined;
  /** Found while the points are checked (see checkPoints). */
  readonly longestTask: LongestTask | null;
  #varying: string[] | undefined;

  /** Checks every point of `spec` (throws the one-line error of the first bad one). */
  constructor(fields: SweepFields, spec: SweepSpec, options: ExpandOptions = {}) {
    this.name = fields.name;
    this.file = fields.file;
    this.specText = fields.specText;
    this.specHash = fields.specHash;
    if (spec.description !== undefined) this.description = spec.description;
    if (spec.search) this.search = spec.search;
    this.size = spec.size;
    this.#spec = spec;
    this.#source = fields.source;
    // Resolved once, so that every pass over the grid (check, stream, list) gives the same tasks.
    let resolved = options.defaultEngine;
    const resolveAuto = (): EngineName => (resolved ??= defaultEngine());
    this.engines = specEngines(spec, resolveAuto);
    this.#options = resolved === undefined ? options : { ...options, defaultEngine: resolved };
    this.longestTask = checkPoints(spec, this.#options);
  }

  get tasks(): ExpandedTask[] {
    return (this.#tasks ??= expandSweep(this.#spec, this.#options, true));
  }

  get varying(): string[] {
    return (this.#varying ??= varyingParams(this.tasks));
  }

  get duplicates(): number {
    return this.size - this.tasks.length;
  }

  stream(): Iterable<ExpandedTask> {
    return this.#tasks ?? streamTasks(this.#spec, this.#options, true);
  }

  /**
   * The tasks of stream() in batches expanded by a worker thread, while the caller stores the batches
   * before (see expandInWorker); undefined where stream() gives the list already built, or where the
   * spec did not come from a text another thread can read again.
   */
  batches(options: WorkerBatchOptions = {}): TaskBatches | undefined {
    if (this.#tasks || !this.#source) return undefined;
    return expandInWorker(this.#source, this.#options, { ...options, checked: true });
  }
}

/** The tasks of a sweep in order, streamed where the sweep can (a grid), else its list. */
export function sweepTasks(sweep: LoadedSweep): Iterable<ExpandedTask> {
  return sweep.stream ? sweep.stream() : sweep.tasks;
}

/** The engines of a sweep's tasks, without expanding a grid. */
export function sweepEngines(sweep: LoadedSweep): EngineName[] {
  return sweep.engines ? [...sweep.engines] : [...new Set(sweep.tasks.map((t) => t.params.engine))];
}

/** The same sweep with another list of tasks (a search round's choice): no grid, the list is the truth. */
export function withTasks(sweep: LoadedSweep, tasks: ExpandedTask[]): LoadedSweep {
  return {
    name: sweep.name,
    file: sweep.file,
    specText: sweep.specText,
    specHash: sweep.specHash,
    ...(sweep.description !== undefined ? { description: sweep.description } : {}),
    ...(sweep.search ? { search: sweep.search } : {}),
    tasks,
    varying: varyingParams(tasks),
  };
}
