import type { TrainConfig } from '../engines/config.js';

/**
 * Relative cost of a task, used to order the longest tasks first and for the ETA: multiply-adds per
 * example times examples seen, plus the periodic test evaluations. Units are arbitrary but
 * comparable across tasks.
 */
export function estimateCost(c: TrainConfig): number {
  // Reads only COST_PARAMS (a test checks it).
  const inputs = c.dataset === 'synthetic' ? c.features : 784;
  const classes = c.model === 'softmax' || c.model === 'mlp' ? 10 : 1;
  const perExample = c.model === 'mlp' ? inputs * c.hidden + c.hidden * classes : inputs * classes;
  const trainWork = c.steps * Math.min(c.batch_size, c.n_train) * perExample * 3; // forward + backward
  const evaluations = (c.eval_every > 0 ? Math.floor(c.steps / c.eval_every) : 0) + 1;
  const evalWork = evaluations * (c.n_test + c.n_train) * perExample;
  return trainWork + evalWork;
}

/**
 * The parameters estimateCost reads: points that agree on these have the same cost (a grid whose
 * axes vary none of them has one cost for all its points).
 */
export const COST_PARAMS: readonly (keyof TrainConfig)[] = [
  'dataset',
  'features',
  'model',
  'hidden',
  'steps',
  'batch_size',
  'n_train',
  'eval_every',
  'n_test',
];
