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
  /** Points staged here while the worker starts (default WORKER_HEAD; at most a quarter of the grid). */
  workerHead?: number;
}

/**
 * Points of a grid expanded in a worker that this thread expands and stages first, while the worker
 * starts (it loads its modules and builds the spec again in about 0.15-0.2 s, about the time this
 * thread takes for these); at most a quarter of the grid.
 */
export const WORKER_HEAD = 40_000;

/** Stage every task of `sweep` in grid order. Returns false when stopped before the last. */
export async function stageSweep(
  registration: GridRegistration,
  sweep: LoadedSweep,
  options: StageOptions,
): Promise<boolean> {
  const size = sweep.size;
  if (size !== undefined && size >= (options.workerMin ?? EXPAND_WORKER_MIN) && sweep.batches) {
    const head = Math.min(options.workerHead ?? WORKER_HEAD, Math.floor(size / 4));
    const batches = sweep.batches({
      from: head,
      ...(options.workerBatch !== undefined ? { batchSize: options.workerBatch } : {}),
    });
    if (batches) {
      try {
        return await stageWithWorker(registration, sweep, size, head, batches, options);
      } finally {
        await batches.close();
      }
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

/** The first `head` points staged here, then the worker's batches (which start at point `head`). */
async function stageWithWorker(
  registration: GridRegistration,
  sweep: LoadedSweep,
  size: number,
  head: number,
  batches: TaskBatches,
  options: StageOptions,
): Promise<boolean> {
  const tasks = sweepTasks(sweep)[Symbol.iterator]();
  if (registration.stage(tasks, 0, head).taken !== head)
    throw new Error(`internal error: the grid has fewer than ${head} points`);
  // The worker built its spec again from the sweep's text: its first task must be this thread's next.
  const next = tasks.next();
  let position = head;
  let sinceBetween = head;
  if (options.stopped?.()) return false;
  for (let batch = await batches.next(); batch; batch = await batches.next()) {
    if (position === head && (next.done || batchTexts(batch, 0, 1).keys !== next.value.key))
      throw new Error(`internal error: the expansion worker's first task differs from the sweep's`);
    registration.stageBatch(batch, position);
    position += batch.count;
    sinceBetween += batch.count;
    if (sinceBetween >= options.batch) {
      sinceBetween = 0;
      if (!(await options.between())) return false;
    } else if (options.stopped?.()) return false;
  }
  if (position !== size)
    throw new Error(`internal error: the expansion worker gave ${position - head} of ${size - head} tasks`);
  return true;
}
