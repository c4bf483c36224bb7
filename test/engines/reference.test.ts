/**
 * The reference engine: gradients against central finite differences (in float64), the momentum
 * update against a float64 re-computation, evaluation, and small training runs that must learn.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseTrainConfig, type TrainConfigInput } from '../../src/engines/config.js';
import { train } from '../../src/engines/driver.js';
import { initParameters } from '../../src/engines/init.js';
import { batchGradient, batchObjective, createWorkspace } from '../../src/engines/reference/model.js';
import { referenceEngine } from '../../src/engines/reference/index.js';
import { stream } from '../../src/engines/rng.js';
import { parameterCount, type Dataset, type ModelShape } from '../../src/engines/types.js';
import { ENGINE_VERSIONS } from '../../src/engines/versions.js';
import { toyDataset } from '../helpers/fixtures.js';

const toyData = (n: number, d: number, classes: number, seed = 1): Dataset => toyDataset(n, d, classes, seed, 'normal');

function cfg(over: Partial<TrainConfigInput>) {
  return parseTrainConfig({
    engine: 'reference',
    model: 'logreg',
    dataset: 'synthetic',
    n_train: 100,
    n_test: 500,
    batch_size: 10,
    lr: 0.1,
    steps: 10,
    seed: 1,
    ...over,
  });
}

const shapes: Array<[string, ModelShape]> = [
  ['logreg', { model: 'logreg', inputs: 7, hidden: 0, classes: 1 }],
  ['softmax', { model: 'softmax', inputs: 7, hidden: 0, classes: 4 }],
  ['mlp (softmax output)', { model: 'mlp', inputs: 7, hidden: 6, classes: 3 }],
  ['mlp (sigmoid output)', { model: 'mlp', inputs: 7, hidden: 5, classes: 1 }],
];

describe('reference gradients match central finite differences (float64)', () => {
  for (const [name, shape] of shapes) {
    for (const l2 of [0, 0.3]) {
      it(`${name}, l2 = ${l2}`, () => {
        const data = toyData(12, shape.inputs, shape.classes);
        const params = Float64Array.from(initParameters(shape, stream(2, 'init')));
        // Larger weights than the default init: a stronger signal, fewer dead hidden units.
        for (let i = 0; i < params.length; i++) params[i] *= 3;
        const rows = Int32Array.from([0, 3, 3, 5, 7, 8, 11]); // with a repeat, as batches drawn with replacement have
        const ws = createWorkspace(shape, Float64Array);
        const grad = new Float64Array(parameterCount(shape));
        const loss = batchGradient(shape, params, data, rows, l2, grad, ws);
        const objective = batchObjective(shape, params, data, rows, l2, ws);
        let sq = 0;
        for (const p of params) sq += p * p;
        assert.ok(Math.abs(objective - (loss + (l2 / 2) * sq)) < 1e-12, 'loss returned without the L2 term');

        const h = 1e-6;
        let diff = 0;
        let norm = 0;
        for (let i = 0; i < params.length; i++) {
          const keep = params[i];
          params[i] = keep + h;
          const up = batchObjective(shape, params, data, rows, l2, ws);
          params[i] = keep - h;
          const down = batchObjective(shape, params, data, rows, l2, ws);
          params[i] = keep;
          const fd = (up - down) / (2 * h);
          diff += (fd - grad[i]) ** 2;
          norm += fd * fd + grad[i] * grad[i];
        }
        const rel = Math.sqrt(diff / norm);
        assert.ok(rel < 1e-6, `relative gradient error ${rel}`);
      });
    }
  }
});

describe('reference kernel', () => {
  it('applies TensorFlow-form momentum with L2 on every parameter', () => {
    const shape: ModelShape = { model: 'mlp', inputs: 7, hidden: 6, classes: 3 };
    const data = toyData(20, 7, 3);
    const opts = { lr: 0.05, momentum: 0.9, l2: 0.01 };
    const kernel = referenceEngine.createKernel(shape, data, opts);
    const w0 = initParameters(shape, stream(3, 'init'));
    kernel.setParameters(w0);
    const b1 = Int32Array.from([1, 2, 3, 4]);
    const b2 = Int32Array.from([5, 5, 6]);
    const loss1 = kernel.step(b1);
    const loss2 = kernel.step(b2);

    // The same two steps in float64.
    const ws = createWorkspace(shape, Float64Array);
    const w = Float64Array.from(w0);
    const A = new Float64Array(w.length);
    const g = new Float64Array(w.length);
    const losses: number[] = [];
    for (const b of [b1, b2]) {
      losses.push(batchGradient(shape, w, data, b, opts.l2, g, ws));
      for (let i = 0; i < w.length; i++) {
        A[i] = opts.momentum * A[i] + g[i];
        w[i] -= opts.lr * A[i];
      }
    }
    assert.ok(Math.abs(loss1 - losses[0]) < 1e-5 && Math.abs(loss2 - losses[1]) < 1e-5, 'losses before each update');
    const got = kernel.getParameters();
    for (let i = 0; i < w.length; i++)
      assert.ok(Math.abs(got[i] - w[i]) < 1e-5, `parameter ${i}: ${got[i]} vs ${w[i]}`);

    // setParameters resets the momentum: the same step twice from the same weights agrees.
    kernel.setParameters(w0);
    assert.equal(kernel.step(b1), loss1);
    kernel.setParameters(w0);
    kernel.step(b1);
    const again = kernel.getParameters();
    kernel.setParameters(w0);
    kernel.step(b1);
    assert.deepEqual(kernel.getParameters(), again);
  });

  it('momentum 0 is plain SGD', () => {
    const shape: ModelShape = { model: 'softmax', inputs: 7, hidden: 0, classes: 4 };
    const data = toyData(20, 7, 4);
    const kernel = referenceEngine.createKernel(shape, data, { lr: 0.5, momentum: 0, l2: 0 });
    const w0 = initParameters(shape, stream(4, 'init'));
    kernel.setParameters(w0);
    const rows = Int32Array.from([0, 1, 2]);
    kernel.step(rows);
    kernel.step(rows);
    const ws = createWorkspace(shape, Float64Array);
    const w = Float64Array.from(w0);
    const g = new Float64Array(w.length);
    for (let s = 0; s < 2; s++) {
      batchGradient(shape, w, data, rows, 0, g, ws);
      for (let i = 0; i < w.length; i++) w[i] -= 0.5 * g[i];
    }
    const got = kernel.getParameters();
    for (let i = 0; i < w.length; i++)
      assert.ok(Math.abs(got[i] - w[i]) < 1e-5, `parameter ${i}: ${got[i]} vs ${w[i]}`);
  });

  it('evaluates mean cross-entropy and accuracy (logit > 0 → class 1)', () => {
    const shape: ModelShape = { model: 'logreg', inputs: 2, hidden: 0, classes: 1 };
    const data: Dataset = {
      x: Float32Array.from([1, 0, 0, 1, 1, 1, 0, 0]),
      y: Int32Array.from([1, 0, 1, 1]),
      n: 4,
      d: 2,
      classes: 2,
    };
    const kernel = referenceEngine.createKernel(shape, data, { lr: 0, momentum: 0, l2: 0 });
    kernel.setParameters(Float32Array.from([2, -1, 0])); // z = 2, -1, 1, 0
    const e = kernel.evaluate(data);
    const sp = (z: number) => Math.log1p(Math.exp(z)); // softplus
    // −log σ(z) = softplus(−z) for y = 1, −log(1 − σ(z)) = softplus(z) for y = 0
    const expected = (sp(-2) + sp(-1) + sp(-1) + sp(0)) / 4;
    assert.ok(Math.abs(e.loss - expected) < 1e-12, `loss ${e.loss} vs ${expected}`);
    assert.equal(e.accuracy, 0.75); // z = 0 predicts 0, but the last label is 1
    // Stable for extreme logits: no overflow to NaN/inf.
    kernel.setParameters(Float32Array.from([-1e30, 1e30, 0]));
    const big = kernel.evaluate(data);
    assert.ok(Number.isFinite(big.loss) && big.loss > 1e29);
  });

  it('rejects rows outside the training set and mismatched parameters', () => {
    const shape: ModelShape = { model: 'logreg', inputs: 3, hidden: 0, classes: 1 };
    const kernel = referenceEngine.createKernel(shape, toyData(5, 3, 1), { lr: 0.1, momentum: 0, l2: 0 });
    assert.throws(() => kernel.step(Int32Array.from([5])), /outside/);
    assert.throws(() => kernel.setParameters(new Float32Array(3)), /expected 4/);
  });

  it('identifies itself', () => {
    assert.equal(referenceEngine.name, 'reference');
    assert.equal(referenceEngine.version, ENGINE_VERSIONS.reference);
    assert.equal(referenceEngine.backend, 'typescript');
  });
});

describe('reference training runs learn', () => {
  it('softmax on 1,000 MNIST images passes 80% test accuracy in 300 steps', () => {
    const r = train(
      cfg({ model: 'softmax', dataset: 'mnist', n_train: 1000, n_test: 2000, batch_size: 50, lr: 0.5, steps: 300 }),
      referenceEngine,
    );
    assert.equal(r.diverged, false);
    assert.ok(r.testAccuracy > 0.8, `test accuracy ${r.testAccuracy}`);
    assert.ok(r.trainAccuracy > 0.9, `train accuracy ${r.trainAccuracy}`);
  });

  it('an MLP on MNIST learns (hidden 64)', () => {
    const r = train(
      cfg({
        model: 'mlp',
        hidden: 64,
        dataset: 'mnist',
        n_train: 500,
        n_test: 1000,
        batch_size: 20,
        lr: 0.05,
        momentum: 0.9,
        steps: 300,
      }),
      referenceEngine,
    );
    assert.equal(r.diverged, false);
    assert.ok(r.testAccuracy > 0.8, `test accuracy ${r.testAccuracy}`);
  });

  it('logistic regression learns synthetic true labels', () => {
    const r = train(
      cfg({ features: 50, n_train: 500, n_test: 2000, batch_size: 50, lr: 0.5, steps: 300 }),
      referenceEngine,
    );
    assert.ok(r.testAccuracy > 0.9, `test accuracy ${r.testAccuracy}`);
  });

  it('logistic regression learns MNIST 0 vs 1', () => {
    const r = train(
      cfg({ dataset: 'mnist01', n_train: 200, n_test: 10000, batch_size: 20, lr: 0.1, steps: 100 }),
      referenceEngine,
    );
    assert.ok(r.testAccuracy > 0.98, `test accuracy ${r.testAccuracy}`);
  });

  it('weakly regularised logistic regression memorises 100 random labels (200 features), test at chance', () => {
    const r = train(
      cfg({
        features: 200,
        n_train: 100,
        n_test: 2000,
        batch_size: 100,
        lr: 0.5,
        momentum: 0.9,
        l2: 1e-5,
        steps: 300,
        labels: 'random',
      }),
      referenceEngine,
    );
    assert.equal(r.trainAccuracy, 1);
    assert.ok(Math.abs(r.testAccuracy - 0.5) < 0.06, `test accuracy ${r.testAccuracy}`);
  });
});
