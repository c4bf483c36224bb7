/**
 * `bopt plan`: what a sweep would cost on this machine, without training or writing anything.
 *
 * Seconds per task = (seconds per cost unit) x estimateCost(task). The rate comes from stored wall
 * times of similar finished tasks (same engine, model, dataset, hidden size; the same batch size
 * where there is one, else the nearest in ln B), so the cost model only has to scale by steps and
 * batch; without any, from a short probe trained here. Wall time packs the tasks longest first onto
 * the workers, as the coordinator does.
 */
import { performance } from 'node:perf_hooks';
import type { TrainConfig } from '../engines/config.js';
import { train } from '../engines/driver.js';
import type { KernelFactory } from '../engines/types.js';
import type { StoredTiming } from '../storage/reader.js';
import { estimateCost } from '../sweep/cost.js';
import type { ExpandedTask } from '../sweep/types.js';

export type { StoredTiming };

export type RateSource = 'database' | 'probe';

export interface TaskEstimate {
  task: ExpandedTask;
  seconds: number;
  source: RateSource;
}

export interface Plan {
  tasks: number;
  /** Tasks whose result the database already holds (a run skips them). */
  alreadyDone: number;
  toRun: TaskEstimate[];
  workers: number;
  cpuSeconds: number;
  wallSeconds: number;
  /** How many tasks to run were priced from stored wall times, and how many from probes. */
  fromDatabase: number;
  fromProbe: number;
  /** Seconds spent probing (0 when the database priced everything). */
  probeSeconds: number;
}

/** The parameters that decide the speed of one unit of cost, apart from the batch size. */
function similarityKey(c: TrainConfig): string {
  const size = c.model === 'mlp' ? c.hidden : 0;
  const features = c.dataset === 'synthetic' ? c.features : 0;
  return `${c.engine}/${c.model}/${c.dataset}/${size}/${features}`;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/**
 * Seconds per cost unit for a task from stored timings, or undefined when none is similar. Among the
 * similar ones, those with the task's batch size (else the nearest batch size in ln B) decide.
 */
export function storedRate(task: TrainConfig, stored: readonly StoredTiming[]): number | undefined {
  const key = similarityKey(task);
  const similar = stored.filter((s) => similarityKey(s.params) === key && s.wallMs > 0);
  if (similar.length === 0) return undefined;
  const batch = (c: TrainConfig): number => Math.min(c.batch_size, c.n_train);
  const distance = (s: StoredTiming): number => Math.abs(Math.log(batch(s.params)) - Math.log(batch(task)));
  const nearest = Math.min(...similar.map(distance));
  const chosen = similar.filter((s) => distance(s) === nearest);
  return median(chosen.map((s) => s.wallMs / 1000 / estimateCost(s.params)));
}

/** Longest-first list scheduling onto `workers` slots: the makespan in seconds. */
export function packedWallSeconds(seconds: readonly number[], workers: number): number {
  const slots = new Array<number>(Math.max(1, workers)).fill(0);
  for (const s of [...seconds].sort((a, b) => b - a)) {
    let least = 0;
    for (let i = 1; i < slots.length; i++) if (slots[i] < slots[least]) least = i;
    slots[least] += s;
  }
  return Math.max(...slots);
}

/** Trains `cfg` cut to `steps` updates and one final evaluation; returns seconds per cost unit. */
function timeProbe(cfg: TrainConfig, steps: number, factory: KernelFactory): { rate: number; seconds: number } {
  const probe: TrainConfig = { ...cfg, steps, eval_every: 0 };
  const t0 = performance.now();
  train(probe, factory);
  const seconds = (performance.now() - t0) / 1000;
  return { rate: seconds / estimateCost(probe), seconds };
}

/**
 * Seconds per cost unit measured here for a task with no stored timing: a tiny run first (loads the
 * data, warms the kernel, sizes the probe), then one of about `targetSeconds`.
 */
export function probeRate(
  cfg: TrainConfig,
  factory: KernelFactory,
  targetSeconds: number,
): { rate: number; seconds: number } {
  const warm = timeProbe(cfg, Math.min(cfg.steps, 2), factory);
  const perStep = warm.rate * (estimateCost({ ...cfg, steps: 1, eval_every: 0 }) - estimateCost({ ...cfg, steps: 0 }));
  const steps = Math.max(1, Math.min(cfg.steps, Math.round(targetSeconds / Math.max(perStep, 1e-9))));
  const measured = timeProbe(cfg, steps, factory);
  return { rate: measured.rate, seconds: warm.seconds + measured.seconds };
}

export interface PlanOptions {
  workers: number;
  /** Task keys whose result is already stored. */
  done: ReadonlySet<string>;
  stored: readonly StoredTiming[];
  /** Engine factories for probes, by engine name; only called when the database prices nothing similar. */
  loadFactory: (cfg: TrainConfig) => Promise<KernelFactory>;
  /** Total seconds to spend probing (spread over the probed batch sizes); default 3. */
  probeBudgetSeconds?: number;
}

/** Batch sizes probed per kind of task: the others are interpolated in ln B between them. */
const PROBES_PER_KIND = 4;
/**
 * Probes train at most this batch size: above it the time per cost unit is flat (the kernel is
 * bound by the weight matrix, not the batch), and one step at B = 50,000 would cost the whole budget.
 */
const PROBE_MAX_BATCH = 1024;

/** Up to `k` values spread evenly in ln x over the sorted distinct values `xs` (ends included). */
function spreadInLog(xs: readonly number[], k: number): number[] {
  if (xs.length <= k) return [...xs];
  const lo = Math.log(xs[0]);
  const hi = Math.log(xs[xs.length - 1]);
  const picks = new Set<number>();
  for (let i = 0; i < k; i++) {
    const target = lo + ((hi - lo) * i) / (k - 1);
    let best = xs[0];
    for (const x of xs) if (Math.abs(Math.log(x) - target) < Math.abs(Math.log(best) - target)) best = x;
    picks.add(best);
  }
  return [...picks].sort((a, b) => a - b);
}

/** ln-rate interpolated linearly in ln B between the probed batch sizes; constant beyond the ends. */
function interpolateRate(probed: readonly { batch: number; rate: number }[], batch: number): number {
  if (batch <= probed[0].batch) return probed[0].rate;
  const last = probed[probed.length - 1];
  if (batch >= last.batch) return last.rate;
  let i = 1;
  while (probed[i].batch < batch) i++;
  const a = probed[i - 1];
  const b = probed[i];
  const t = (Math.log(batch) - Math.log(a.batch)) / (Math.log(b.batch) - Math.log(a.batch));
  return Math.exp(Math.log(a.rate) + t * (Math.log(b.rate) - Math.log(a.rate)));
}

export interface Prices {
  /** Estimated seconds per task. */
  seconds: Map<ExpandedTask, TaskEstimate>;
  probeSeconds: number;
}

/** Seconds for every task: from stored wall times of similar tasks, else from a few probes trained here. */
export async function priceTasks(tasks: readonly ExpandedTask[], options: PlanOptions): Promise<Prices> {
  const rates = new Map<ExpandedTask, { rate: number; source: RateSource }>();
  const unpriced = new Map<string, ExpandedTask[]>(); // by kind
  for (const task of tasks) {
    const rate = storedRate(task.params, options.stored);
    if (rate !== undefined) rates.set(task, { rate, source: 'database' });
    else {
      const kind = similarityKey(task.params);
      unpriced.set(kind, [...(unpriced.get(kind) ?? []), task]);
    }
  }
  let probeSeconds = 0;
  const plan = [...unpriced.values()].map((group) => {
    const batch = (t: ExpandedTask): number => Math.min(t.params.batch_size, t.params.n_train, PROBE_MAX_BATCH);
    const batches = spreadInLog(
      [...new Set(group.map(batch))].sort((a, b) => a - b),
      PROBES_PER_KIND,
    );
    return { group, batch, batches };
  });
  const probeCount = plan.reduce((a, p) => a + p.batches.length, 0);
  const perProbe = Math.max(0.1, (options.probeBudgetSeconds ?? 3) / Math.max(1, probeCount));
  for (const { group, batch, batches } of plan) {
    const probed: { batch: number; rate: number }[] = [];
    for (const b of batches) {
      // the median-cost task of that batch size stands for it
      const same = group.filter((t) => batch(t) === b).sort((x, y) => x.cost - y.cost);
      const representative = { ...same[same.length >> 1].params, batch_size: b };
      const factory = await options.loadFactory(representative);
      const probe = probeRate(representative, factory, perProbe);
      probeSeconds += probe.seconds;
      probed.push({ batch: b, rate: probe.rate });
    }
    for (const task of group) rates.set(task, { rate: interpolateRate(probed, batch(task)), source: 'probe' });
  }
  const seconds = new Map<ExpandedTask, TaskEstimate>();
  for (const task of tasks) {
    const { rate, source } = rates.get(task)!;
    seconds.set(task, { task, seconds: rate * estimateCost(task.params), source });
  }
  return { seconds, probeSeconds };
}

export async function planSweep(tasks: readonly ExpandedTask[], options: PlanOptions): Promise<Plan> {
  const toRun = tasks.filter((t) => !options.done.has(t.key));
  const prices = await priceTasks(toRun, options);
  const estimates = toRun.map((task) => prices.seconds.get(task)!);
  const seconds = estimates.map((e) => e.seconds);
  return {
    tasks: tasks.length,
    alreadyDone: tasks.length - toRun.length,
    toRun: estimates,
    workers: options.workers,
    cpuSeconds: seconds.reduce((a, b) => a + b, 0),
    wallSeconds: toRun.length ? packedWallSeconds(seconds, options.workers) : 0,
    fromDatabase: estimates.filter((e) => e.source === 'database').length,
    fromProbe: estimates.filter((e) => e.source === 'probe').length,
    probeSeconds: prices.probeSeconds,
  };
}
