/**
 * The data of a training task: its training subset (drawn by seed), its test set and the model shape.
 *
 *  - mnist:     10 classes. Train: n_train images drawn without replacement from the 60,000 (stream
 *               'subset'), in draw order. Test: the first n_test of the 10,000 test images.
 *  - mnist01:   digits 0 and 1, binary labels. Train: floor(n_train/2) zeros and the rest ones, each
 *               drawn without replacement (stream 'subset'), then shuffled together. Test: the 0/1
 *               images among the test images, in file order, at most n_test (2,115 exist).
 *  - synthetic: `features` independent standard-normal inputs per example (so E|x|² = features, the
 *               paper's normalisation), label 1 iff the sum of the features is > 0. Train and test come
 *               from separate streams ('synthetic/train', 'synthetic/test'): the test set does not
 *               depend on n_train.
 *  - labels 'random': the TRAIN labels are replaced by uniform random classes (stream 'labels');
 *               test labels stay true.
 * Pixels are scaled by 1/255 to Float32 in [0, 1], as in the PyTorch peer.
 *
 * Datasets returned here are shared (test sets are cached per thread) and must be treated as read-only.
 */
import type { TrainConfig } from '../config.js';
import { stream } from '../rng.js';
import type { Dataset, ModelShape } from '../types.js';
import { loadMnistRaw, type MnistSplit } from './mnist.js';

export { loadMnistRaw, mnistFolder, setMnistFolder } from './mnist.js';
export { parseIdxImages, parseIdxLabels, readIdxImages, readIdxLabels } from './idx.js';

export interface TaskData {
  train: Dataset;
  test: Dataset;
  shape: ModelShape;
}

/** Copy the chosen rows of a split into a Dataset, pixels / 255, labels mapped by `label`. */
function gather(
  split: MnistSplit,
  rows: ArrayLike<number>,
  classes: number,
  label: (digit: number) => number,
): Dataset {
  const d = split.d;
  const n = rows.length;
  const x = new Float32Array(n * d);
  const y = new Int32Array(n);
  for (let r = 0; r < n; r++) {
    const src = rows[r] * d;
    const dst = r * d;
    for (let j = 0; j < d; j++) x[dst + j] = split.pixels[src + j] / 255;
    y[r] = label(split.labels[rows[r]]);
  }
  return { x, y, n, d, classes };
}

const identity = (digit: number): number => digit;

/** Test sets depend only on (dataset, n_test, features…): cache the MNIST ones per thread. */
const testCache = new Map<string, Dataset>();

function mnistTest(kind: 'mnist' | 'mnist01', nTest: number): Dataset {
  const key = `${kind}:${nTest}`;
  let ds = testCache.get(key);
  if (!ds) {
    const test = loadMnistRaw().test;
    const rows: number[] = [];
    for (let i = 0; i < test.count && rows.length < nTest; i++) {
      if (kind === 'mnist' || test.labels[i] <= 1) rows.push(i);
    }
    ds = gather(test, rows, kind === 'mnist' ? 10 : 2, identity);
    if (testCache.size > 8) testCache.clear();
    testCache.set(key, ds);
  }
  return ds;
}

function mnistTrain(cfg: TrainConfig): Dataset {
  const train = loadMnistRaw().train;
  if (cfg.n_train > train.count) {
    throw new Error(`n_train ${cfg.n_train} is larger than the ${train.count} MNIST training images`);
  }
  const rows = stream(cfg.seed, 'subset').sample(train.count, cfg.n_train);
  return gather(train, rows, 10, identity);
}

function mnist01Train(cfg: TrainConfig): Dataset {
  const train = loadMnistRaw().train;
  const zeros: number[] = [];
  const ones: number[] = [];
  for (let i = 0; i < train.count; i++) {
    if (train.labels[i] === 0) zeros.push(i);
    else if (train.labels[i] === 1) ones.push(i);
  }
  const nZeros = Math.floor(cfg.n_train / 2);
  const nOnes = cfg.n_train - nZeros;
  if (nZeros > zeros.length || nOnes > ones.length) {
    throw new Error(
      `n_train ${cfg.n_train} is too large for mnist01: a balanced subset needs ${nZeros} zeros and ${nOnes} ones, ` +
        `MNIST has ${zeros.length} and ${ones.length}`,
    );
  }
  const rng = stream(cfg.seed, 'subset');
  const pickZeros = rng.sample(zeros.length, nZeros);
  const pickOnes = rng.sample(ones.length, nOnes);
  const rows = new Int32Array(cfg.n_train);
  for (let i = 0; i < nZeros; i++) rows[i] = zeros[pickZeros[i]];
  for (let i = 0; i < nOnes; i++) rows[nZeros + i] = ones[pickOnes[i]];
  rng.shuffle(rows);
  return gather(train, rows, 2, identity);
}

/** n examples of standard-normal features, label = [sum > 0]. */
export function syntheticDataset(seed: number, purpose: string, n: number, features: number): Dataset {
  const rng = stream(seed, purpose);
  const x = new Float32Array(n * features);
  const y = new Int32Array(n);
  for (let r = 0; r < n; r++) {
    let sum = 0;
    for (let j = 0; j < features; j++) {
      const v = Math.fround(rng.normal());
      x[r * features + j] = v;
      sum += v;
    }
    y[r] = sum > 0 ? 1 : 0;
  }
  return { x, y, n, d: features, classes: 2 };
}

/** Replace the labels with uniform random classes (in place). */
function randomiseLabels(ds: Dataset, seed: number): void {
  const rng = stream(seed, 'labels');
  for (let i = 0; i < ds.n; i++) ds.y[i] = rng.int(ds.classes);
}

/**
 * Model shape of a task: logreg has one sigmoid output (binary data); softmax 10 outputs; the mlp
 * has one output per class of its dataset (10 for mnist, a 2-way softmax for the binary datasets).
 */
export function taskShape(cfg: TrainConfig): ModelShape {
  const inputs = cfg.dataset === 'synthetic' ? cfg.features : 784;
  const dataClasses = cfg.dataset === 'mnist' ? 10 : 2;
  switch (cfg.model) {
    case 'logreg':
      if (dataClasses !== 2) throw new Error('model logreg is binary: use dataset mnist01 or synthetic');
      return { model: 'logreg', inputs, hidden: 0, classes: 1 };
    case 'softmax':
      return { model: 'softmax', inputs, hidden: 0, classes: dataClasses };
    case 'mlp':
      return { model: 'mlp', inputs, hidden: cfg.hidden, classes: dataClasses };
  }
}

export function loadTaskData(cfg: TrainConfig): TaskData {
  const shape = taskShape(cfg);
  let train: Dataset;
  let test: Dataset;
  switch (cfg.dataset) {
    case 'mnist':
      train = mnistTrain(cfg);
      test = mnistTest('mnist', cfg.n_test);
      break;
    case 'mnist01':
      train = mnist01Train(cfg);
      test = mnistTest('mnist01', cfg.n_test);
      break;
    case 'synthetic':
      train = syntheticDataset(cfg.seed, 'synthetic/train', cfg.n_train, cfg.features);
      test = syntheticDataset(cfg.seed, 'synthetic/test', cfg.n_test, cfg.features);
      break;
  }
  if (cfg.labels === 'random') randomiseLabels(train, cfg.seed);
  return { train, test, shape };
}
