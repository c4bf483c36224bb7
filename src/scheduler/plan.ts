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
  const warm = timeProbe(cfg, Math.min(cfg.steps, 5), factory);
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
  /** Total seconds to spend probing (spread over the dissimilar task kinds); default 3. */
  probeBudgetSeconds?: number;
}

export async function planSweep(tasks: readonly ExpandedTask[], options: PlanOptions): Promise<Plan> {
  const toRun = tasks.filter((t) => !options.done.has(t.key));
  const rates = new Map<ExpandedTask, { rate: number; source: RateSource }>();
  const unpriced = new Map<string, ExpandedTask[]>(); // by kind and batch size
  for (const task of toRun) {
    const rate = storedRate(task.params, options.stored);
    if (rate !== undefined) rates.set(task, { rate, source: 'database' });
    else {
      const kind = `${similarityKey(task.params)}/${Math.min(task.params.batch_size, task.params.n_train)}`;
      unpriced.set(kind, [...(unpriced.get(kind) ?? []), task]);
    }
  }
  let probeSeconds = 0;
  if (unpriced.size > 0) {
    const perProbe = Math.max(0.1, (options.probeBudgetSeconds ?? 3) / unpriced.size);
    for (const group of unpriced.values()) {
      // the group's median-cost task stands for it
      const sorted = [...group].sort((a, b) => a.cost - b.cost);
      const representative = sorted[sorted.length >> 1].params;
      const factory = await options.loadFactory(representative);
      const probe = probeRate(representative, factory, perProbe);
      probeSeconds += probe.seconds;
      for (const task of group) rates.set(task, { rate: probe.rate, source: 'probe' });
    }
  }
  const estimates: TaskEstimate[] = toRun.map((task) => {
    const { rate, source } = rates.get(task)!;
    return { task, seconds: rate * estimateCost(task.params), source };
  });
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
    probeSeconds,
  };
}
