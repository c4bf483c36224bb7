/**
 * The training driver shared by every engine. Data, initial weights, batch order, evaluation
 * cadence and divergence detection live here; an engine only supplies the kernel (types.ts). Two
 * engines given the same TrainConfig therefore see the same initial weights and the same batches.
 *
 * Protocol (the PyTorch reference timed by `npm run bench` follows the same):
 *  - batches: for B < n_train, B indices drawn uniformly WITH replacement (stream 'batches');
 *    for B ≥ n_train, the whole training set in order (full-batch gradient descent).
 *  - curve: when eval_every > 0, a point at step 0 (the initial weights), every eval_every steps and
 *    at the last step done; when eval_every = 0 the curve holds only the final point (it costs
 *    nothing: the final evaluation is made anyway). A point's trainLoss is the mean CE over the
 *    whole training subset, testLoss/testAccuracy over the test set.
 *  - divergence: a step whose batch loss is NaN/±inf, a non-finite training loss at a curve point,
 *    or non-finite parameters at the end stop the run with diverged = true. The result is still
 *    complete: accuracies are whatever the (broken) weights give, losses may be NaN or inf.
 *    stepsDone counts the step that diverged. A run whose final training loss is finite but above
 *    DIVERGED_LOSS_FACTOR times the loss of chance (ln of the number of classes) is marked
 *    diverged too, without stopping it early: its numbers are the same as before the rule.
 *  - wallMs: the whole task, data loading and evaluations included.
 */
import { applyLogregEvidence } from './evidence.js';
import type { TrainConfig } from './config.js';
import { loadTaskData } from './data/index.js';
import { initParameters } from './init.js';
import { stream } from './rng.js';
import type { CurvePoint, Dataset, Kernel, KernelFactory, ModelShape, TrainHooks, TrainResult } from './types.js';

export interface PreparedTraining {
  train: Dataset;
  test: Dataset;
  shape: ModelShape;
  /** Initial parameters in the shared layout (stream 'init'); a fresh copy for each call of prepareTraining. */
  initialParams: Float32Array;
  /** Effective batch size: min(batch_size, n_train). */
  batchSize: number;
  /**
   * A fresh, endless generator of the task's batches (stream 'batches'), the same sequence on every
   * call. Full-batch runs yield the same read-only array every time.
   */
  batchSequence(): Generator<Int32Array, never, void>;
}

/** The batches of a task: endless, deterministic from (seed, n, B). */
export function* batchSequence(seed: number, n: number, batchSize: number): Generator<Int32Array, never, void> {
  if (batchSize >= n) {
    const all = new Int32Array(n);
    for (let i = 0; i < n; i++) all[i] = i;
    for (;;) yield all;
  }
  const rng = stream(seed, 'batches');
  for (;;) {
    const batch = new Int32Array(batchSize);
    for (let b = 0; b < batchSize; b++) batch[b] = rng.int(n);
    yield batch;
  }
}

export function prepareTraining(cfg: TrainConfig): PreparedTraining {
  const { train, test, shape } = loadTaskData(cfg);
  const initialParams = initParameters(shape, stream(cfg.seed, 'init'));
  const n = train.n;
  return {
    train,
    test,
    shape,
    initialParams,
    batchSize: Math.min(cfg.batch_size, n),
    batchSequence: () => batchSequence(cfg.seed, n, cfg.batch_size),
  };
}

/**
 * A final training cross-entropy above this many times that of a uniform guess (ln 10 = 2.3 for
 * MNIST, ln 2 for the binary sets) marks the run diverged: SGD has blown up even though the numbers
 * stayed finite (a loss of ~1e6 at chance accuracy).
 */
export const DIVERGED_LOSS_FACTOR = 100;

function allFinite(a: Float32Array): boolean {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) return false;
  return true;
}

export function train(cfg: TrainConfig, factory: KernelFactory, hooks: TrainHooks = {}): TrainResult {
  const t0 = performance.now();
  const prep = prepareTraining(cfg);
  const { shape, test } = prep;
  const kernel: Kernel = factory.createKernel(shape, prep.train, { lr: cfg.lr, momentum: cfg.momentum, l2: cfg.l2 });
  try {
    kernel.setParameters(prep.initialParams);
    // The threads granted to the task may change while it trains: the numbers do not depend on them.
    let threads = 1;
    const threadsNow = hooks.threads;
    const useGrantedThreads =
      threadsNow && kernel.setThreads
        ? (): void => {
            const n = threadsNow();
            if (n !== threads && Number.isInteger(n) && n >= 1) {
              kernel.setThreads!(n);
              threads = n;
            }
          }
        : (): void => {};
    const curve: CurvePoint[] = [];
    const addPoint = (step: number): CurvePoint => {
      useGrantedThreads();
      const tr = kernel.evaluate(prep.train);
      const te = kernel.evaluate(test);
      const p: CurvePoint = { step, trainLoss: tr.loss, testLoss: te.loss, testAccuracy: te.accuracy };
      curve.push(p);
      return p;
    };
    if (cfg.eval_every > 0) addPoint(0);

    const onProgress = hooks.onProgress;
    const interval = hooks.progressIntervalMs ?? 200;
    // Reading the clock costs ~50 ns: for cheap steps look only every 16th step.
    const clockMask = prep.batchSize * prep.initialParams.length >= 1e6 ? 0 : 15;
    let lastReport = performance.now();
    let lossSum = 0;
    let lossCount = 0;

    const batches = prep.batchSequence();
    let stepsDone = 0;
    let diverged = false;
    for (let s = 1; s <= cfg.steps; s++) {
      useGrantedThreads();
      const loss = kernel.step(batches.next().value);
      stepsDone = s;
      if (!Number.isFinite(loss)) {
        diverged = true;
        break;
      }
      lossSum += loss;
      lossCount++;
      if (onProgress && (s & clockMask) === 0) {
        const now = performance.now();
        if (now - lastReport >= interval) {
          onProgress({ step: s, totalSteps: cfg.steps, loss: lossSum / lossCount });
          lastReport = now;
          lossSum = 0;
          lossCount = 0;
        }
      }
      if (cfg.eval_every > 0 && s % cfg.eval_every === 0 && s < cfg.steps) {
        if (!Number.isFinite(addPoint(s).trainLoss)) {
          diverged = true;
          break;
        }
      }
    }

    if (!allFinite(kernel.getParameters())) diverged = true;
    useGrantedThreads();
    const tr = kernel.evaluate(prep.train);
    const te = kernel.evaluate(test);
    const chanceLoss = Math.log(Math.max(2, shape.classes));
    if (!(tr.loss <= DIVERGED_LOSS_FACTOR * chanceLoss)) diverged = true;
    const last = curve[curve.length - 1];
    if (!last || last.step !== stepsDone) {
      curve.push({ step: stepsDone, trainLoss: tr.loss, testLoss: te.loss, testAccuracy: te.accuracy });
    }
    const result: TrainResult = {
      engine: factory.name,
      engineVersion: factory.version,
      backend: factory.backend,
      stepsDone,
      trainAccuracy: tr.accuracy,
      trainLoss: tr.loss,
      testAccuracy: te.accuracy,
      testLoss: te.loss,
      diverged,
      wallMs: performance.now() - t0,
      curve,
    };
    // Bayesian evidence of logistic regression at the minimum of its cost (src/engines/evidence.ts).
    if (cfg.model === 'logreg') {
      applyLogregEvidence(cfg, prep.train, test, result);
      result.wallMs = performance.now() - t0;
    }
    return result;
  } finally {
    kernel.dispose?.();
  }
}
