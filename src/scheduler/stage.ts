/**
 * Staging a sweep's tasks for registration (see GridRegistration): a large grid is expanded by a
 * worker thread in batches while this thread stages the batch before, so that expansion (canonical
 * JSON and SHA-256 of every point) and the staging inserts run on two cores; a small one is expanded
 * here, as the worker's start would cost more than it saves. Both give the same rows.
 */
import type { GridRegistration } from '../storage/registration.js';
import { batchTexts } from '../sweep/batches.js';
import { sweepTasks } from '../sweep/grid.js';
import type { LoadedSweep, TaskBatches } from '../sweep/types.js';

/** Grids of fewer points are expanded on the calling thread (a worker starts in about 0.1-0.3 s). */
export const EXPAND_WORKER_MIN = 20_000;

export interface StageOptions {
  /** Tasks staged between two calls of `between`. */
  batch: number;
  /** Called after every `batch` tasks staged (renew a lease, handle signals): false stops staging. */
  between: () => Promise<boolean>;
  /** Checked after every batch of the worker (a cheap test of a stop request): true stops staging. */
  stopped?: () => boolean;
  /** Grids of at least this many points are expanded in a worker thread (default EXPAND_WORKER_MIN). */
  workerMin?: number;
  /** Tasks per batch of the worker (default TASK_BATCH of ../sweep/batches.ts). */
  workerBatch?: number;
}

/** Stage every task of `sweep` in grid order. Returns false when stopped before the last. */
export async function stageSweep(
  registration: GridRegistration,
  sweep: LoadedSweep,
  options: StageOptions,
): Promise<boolean> {
  const workerMin = options.workerMin ?? EXPAND_WORKER_MIN;
  const batches =
    sweep.size !== undefined && sweep.size >= workerMin
      ? sweep.batches?.(options.workerBatch !== undefined ? { batchSize: options.workerBatch } : {})
      : undefined;
  if (batches) {
    try {
      return await stageBatches(registration, sweep, batches, options);
    } finally {
      await batches.close();
    }
  }
  const tasks = sweepTasks(sweep)[Symbol.iterator]();
  for (let position = 0; ;) {
    const { taken, ended } = registration.stage(tasks, position, options.batch);
    position += taken;
    if (ended) return true;
    if (!(await options.between())) return false;
  }
}

async function stageBatches(
  registration: GridRegistration,
  sweep: LoadedSweep,
  batches: TaskBatches,
  options: StageOptions,
): Promise<boolean> {
  let position = 0;
  let sinceBetween = 0;
  for (let batch = await batches.next(); batch; batch = await batches.next()) {
    if (position === 0) {
      // The worker built its spec again from the sweep's text: its first task must be this thread's.
      const first = sweepTasks(sweep)[Symbol.iterator]().next();
      if (first.done || batchTexts(batch, 0, 1).keys !== first.value.key)
        throw new Error(`internal error: the expansion worker's first task differs from the sweep's`);
    }
    registration.stageBatch(batch, position);
    position += batch.count;
    sinceBetween += batch.count;
    if (sinceBetween >= options.batch) {
      sinceBetween = 0;
      if (!(await options.between())) return false;
    } else if (options.stopped?.()) return false;
  }
  if (sweep.size !== undefined && position !== sweep.size)
    throw new Error(`internal error: the expansion worker gave ${position} of ${sweep.size} tasks`);
  return true;
}
