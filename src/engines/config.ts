/**
 * The complete parameter set of one training task, validated once where it enters (sweep expansion
 * or a job arriving from a queue). Defaults are filled in here so that a task's canonical form, and
 * therefore its identity hash, never depends on which defaults a sweep file happened to spell out.
 */
import { z } from 'zod';

export const ENGINE_NAMES = ['reference', 'native', 'tfjs'] as const;
export type EngineName = (typeof ENGINE_NAMES)[number];

export const MODEL_NAMES = ['logreg', 'softmax', 'mlp'] as const;
export type ModelName = (typeof MODEL_NAMES)[number];

export const DATASET_NAMES = ['mnist', 'mnist01', 'synthetic'] as const;
export type DatasetName = (typeof DATASET_NAMES)[number];

const trainConfigObject = z.strictObject({
  engine: z.enum(ENGINE_NAMES),
  /** logreg: binary sigmoid (paper §3); softmax: 10-class linear; mlp: one hidden ReLU layer. */
  model: z.enum(MODEL_NAMES),
  /** mnist: 10 classes; mnist01: digits 0 vs 1 (binary); synthetic: 200 Gaussian features (binary). */
  dataset: z.enum(DATASET_NAMES),
  hidden: z.number().int().positive().default(800),
  n_train: z.number().int().positive(),
  n_test: z.number().int().positive().default(10000),
  batch_size: z.number().int().positive(),
  lr: z.number().positive(),
  momentum: z.number().min(0).lt(1).default(0),
  /** L2 coefficient: adds (l2/2)·Σw² to the batch-mean loss, so its gradient is l2·w. */
  l2: z.number().min(0).default(0),
  steps: z.number().int().nonnegative(),
  seed: z.number().int().nonnegative(),
  labels: z.enum(['true', 'random']).default('true'),
  /** Evaluate the test set every this many steps for the stored curve; 0 = only at the end. */
  eval_every: z.number().int().nonnegative().default(0),
  /** Synthetic data only: number of input features. */
  features: z.number().int().positive().default(200),
});

export const trainConfigSchema = trainConfigObject
  .refine((c) => c.model !== 'softmax' || c.dataset === 'mnist', {
    message: 'model softmax needs dataset mnist (10 classes)',
    path: ['model'],
  })
  .refine((c) => c.model === 'softmax' || c.model === 'mlp' || c.dataset !== 'mnist', {
    message: 'model logreg is binary: use dataset mnist01 or synthetic',
    path: ['model'],
  });

export type TrainConfig = z.output<typeof trainConfigSchema>;
export type TrainConfigInput = z.input<typeof trainConfigSchema>;

/** Names a sweep may set; anything else is an unknown parameter. */
export const TRAIN_PARAM_NAMES: readonly string[] = Object.keys(trainConfigObject.shape);

/** Parse and default a raw parameter bag; throws a ZodError that the caller turns into a one-line message. */
export function parseTrainConfig(raw: unknown): TrainConfig {
  return trainConfigSchema.parse(raw);
}
