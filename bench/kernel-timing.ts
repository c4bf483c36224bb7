/**
 * The timing loop the native kernel benches share (bench/native-ab.ts, bench/threads.ts): the best
 * µs per training example over short windows, so a moment of contention on a shared machine spoils
 * one window, not the figure.
 */
import { parseTrainConfig, type EngineName } from '../src/engines/config.js';
import { batchSequence, prepareTraining } from '../src/engines/driver.js';

/** The learning rate and momentum the kernel benches train with. */
export const BENCH_LR = 0.01;
export const BENCH_MOMENTUM = 0.9;

/** The paper's MLP (784-800-10) on 1,000 MNIST images with the 10,000 test images, ready to train. */
export function benchMlpTraining(engine: EngineName) {
  return prepareTraining(
    parseTrainConfig({
      engine,
      model: 'mlp',
      dataset: 'mnist',
      hidden: 800,
      n_train: 1000,
      n_test: 10000,
      batch_size: 1,
      lr: BENCH_LR,
      momentum: BENCH_MOMENTUM,
      steps: 0,
      seed: 0,
    }),
  );
}

/** What the loop needs of a kernel: a training step on a batch of example indices. */
export interface SteppingKernel {
  step(batch: Int32Array): unknown;
  dispose?(): void;
}

/**
 * Best µs/example over windows of `windowMs` during `ms` milliseconds of `clock` (the wall clock by
 * default), training `kernel` on batches of B drawn from nTrain examples; disposes the kernel.
 */
export function bestMicrosPerExample(
  kernel: SteppingKernel,
  nTrain: number,
  B: number,
  ms: number,
  clock: () => number = () => performance.now(),
  windowMs = 20,
): number {
  const it = batchSequence(1, nTrain, B);
  const pre: Int32Array[] = Array.from({ length: 64 }, () => it.next().value as Int32Array);
  kernel.step(pre[0]);
  let best = Infinity;
  let s = 0;
  const t0 = clock();
  while (clock() - t0 < ms) {
    const t = clock();
    let n = 0;
    let now: number;
    do {
      kernel.step(pre[(s + n++) % pre.length]);
      now = clock();
    } while (now - t < windowMs);
    s += n;
    best = Math.min(best, ((now - t) * 1000) / (n * B));
  }
  kernel.dispose?.();
  return best;
}
