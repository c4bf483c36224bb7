/**
 * The contract between the training driver (shared by every engine) and an engine's kernel (the hot
 * path). An engine only implements the kernel; data, initialisation, batch order, evaluation cadence
 * and divergence detection live in the driver, so engines are checked against each other from the
 * same initial weights and the same batches (llm.c style).
 */
import type { EngineName, ModelName, TrainConfig } from './config.js';

/** Shape of a model. classes = 1 means a single sigmoid output (binary logistic regression). */
export interface ModelShape {
  model: ModelName;
  inputs: number;
  /** 0 for the linear models. */
  hidden: number;
  classes: number;
}

/**
 * Parameter layout, one flat Float32Array:
 *  - linear (logreg/softmax): W [inputs × classes] row-major (row i = weights of input i), then b [classes]
 *  - mlp: W1 [inputs × hidden] row-major (row i = weights of input pixel i), b1 [hidden],
 *         W2 [hidden × classes] row-major, b2 [classes]
 * Row-per-input lets a kernel skip the rows of zero pixels.
 */
export function parameterCount(s: ModelShape): number {
  if (s.model === 'mlp') return s.inputs * s.hidden + s.hidden + s.hidden * s.classes + s.classes;
  return s.inputs * s.classes + s.classes;
}

/** A dataset in memory: x is n × d row-major in [0, 1] (MNIST) or real-valued (synthetic); y are class ids. */
export interface Dataset {
  x: Float32Array;
  y: Int32Array;
  n: number;
  d: number;
  /** Number of classes of the task (2 for binary problems, even though the model has one output). */
  classes: number;
}

export interface KernelOptions {
  lr: number;
  momentum: number;
  l2: number;
}

export interface Evaluation {
  /** Mean cross-entropy over the examples (natural log). */
  loss: number;
  accuracy: number;
}

/** The hot path of one engine for one model. Synchronous: it runs inside a worker thread. */
export interface Kernel {
  /** Replace all parameters (and reset momentum buffers). Length = parameterCount(shape). */
  setParameters(params: Float32Array): void;
  /** A copy of the current parameters in the shared layout, with any lazy updates applied. */
  getParameters(): Float32Array;
  /**
   * One SGD step on train rows `batch` (indices into the dataset given at creation):
   * A ← m·A + ∇(mean CE + l2/2·|w|²); w ← w − lr·A. Returns the batch-mean cross-entropy
   * computed in the forward pass, before the update (without the L2 term).
   */
  step(batch: Int32Array): number;
  /** Mean cross-entropy and accuracy on a dataset with the current parameters. */
  evaluate(data: Dataset): Evaluation;
  /** Release native resources, if any. */
  dispose?(): void;
  /**
   * Threads (the caller's included) the kernel may use from now on, where it can use more than one.
   * Never changes a number: results are bit-identical whatever the count.
   */
  setThreads?(n: number): void;
}

export interface KernelFactory {
  readonly name: EngineName;
  /** Part of every task identity: bump when results would change. */
  readonly version: string;
  /** Backend actually used (e.g. "tfjs-wasm"), recorded with each result. */
  readonly backend: string;
  createKernel(shape: ModelShape, train: Dataset, options: KernelOptions): Kernel;
}

export interface CurvePoint {
  step: number;
  trainLoss: number;
  testLoss: number;
  testAccuracy: number;
}

export interface TrainProgress {
  step: number;
  totalSteps: number;
  /** Running mean of the batch losses since the previous report. */
  loss: number;
}

export interface TrainResult {
  engine: EngineName;
  engineVersion: string;
  backend: string;
  stepsDone: number;
  trainAccuracy: number;
  trainLoss: number;
  testAccuracy: number;
  testLoss: number;
  /** True when the loss became NaN/inf: a valid result, not a failure. */
  diverged: boolean;
  wallMs: number;
  curve: CurvePoint[];
  /** Bayesian evidence (logistic regression only, paper §2); absent otherwise. */
  evidence?: { logEvidenceRatio: number; perExample: number };
}

export interface TrainHooks {
  onProgress?: (p: TrainProgress) => void;
  /** Minimum milliseconds between progress reports. */
  progressIntervalMs?: number;
  /** Threads the kernel may use, read before every step and evaluation (it may change while training). */
  threads?: () => number;
}

export type { TrainConfig };
