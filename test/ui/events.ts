/** Synthetic event streams for the UI tests. */
import { parseTrainConfig, type TrainConfig } from '../../src/engines/config.js';
import type { SweepEvent } from '../../src/scheduler/events.js';

export function params(overrides: Partial<TrainConfig> = {}): TrainConfig {
  return parseTrainConfig({
    engine: 'reference',
    model: 'mlp',
    dataset: 'mnist',
    n_train: 1000,
    batch_size: 32,
    lr: 1,
    momentum: 0.9,
    steps: 1000,
    seed: 0,
    ...overrides,
  });
}

/** Accuracy peaking at B_opt = 64 * lr (a toy of the paper's Figure 5). */
export function toyAccuracy(lr: number, b: number): number {
  return 0.95 - 0.02 * Math.log2(b / (64 * lr)) ** 2;
}

/**
 * A sweep over lr x batch size on 2 workers: `done` tasks finish (with the toy accuracy), then one
 * task fails for good and two are left running with step progress.
 */
export function sweepEvents(opts: { lrs?: number[]; batches?: number[]; fail?: boolean } = {}): SweepEvent[] {
  const lrs = opts.lrs ?? [0.5, 1, 2];
  const batches = opts.batches ?? [8, 16, 32, 64, 128, 256, 512];
  const tasks = lrs.flatMap((lr) => batches.map((b) => params({ lr, batch_size: b })));
  const cost = (p: TrainConfig) => p.steps * p.batch_size;
  const totalCost = tasks.reduce((s, p) => s + cost(p), 0);
  const events: SweepEvent[] = [
    {
      type: 'sweep-start',
      sweep: 'fig5-lr',
      database: '/tmp/ui.sqlite',
      engine: 'reference',
      workers: 2,
      counts: { pending: tasks.length, running: 0, done: 0, failed: 0 },
      remainingCost: totalCost,
      totalCost,
    },
  ];
  const finished = opts.fail === false ? tasks.length - 2 : tasks.length - 3;
  tasks.slice(0, finished).forEach((p, i) => {
    const key = `k${String(i).padStart(3, '0')}`;
    events.push({ type: 'task-start', key, params: p, lane: i % 2, attempt: 1, cost: cost(p) });
    events.push({ type: 'task-progress', key, lane: i % 2, step: 500, totalSteps: 1000, loss: 0.5 });
    events.push({
      type: 'task-done',
      key,
      params: p,
      lane: i % 2,
      cost: cost(p),
      testAccuracy: toyAccuracy(p.lr, p.batch_size),
      trainAccuracy: 1,
      diverged: false,
      wallMs: 10,
    });
  });
  let next = finished;
  if (opts.fail !== false) {
    const p = tasks[next]!;
    events.push({ type: 'task-start', key: 'kfail', params: p, lane: 0, attempt: 1, cost: cost(p) });
    events.push({
      type: 'task-failed',
      key: 'kfail',
      params: p,
      lane: 0,
      attempts: 3,
      error: 'loss became NaN at step 17',
    });
    next++;
  }
  for (let w = 0; w < 2; w++) {
    const p = tasks[next + w]!;
    events.push({ type: 'task-start', key: `krun${w}`, params: p, lane: w, attempt: 1, cost: cost(p) });
    events.push({
      type: 'task-progress',
      key: `krun${w}`,
      lane: w,
      step: 250 * (w + 1),
      totalSteps: 1000,
      loss: 0.25 + w,
    });
  }
  return events;
}
