/**
 * The tfjs engine against the reference engine: same initial weights, same batches, 50 steps, for
 * each model, with and without momentum and L2. Float32 op order differs between the two (tf sums
 * in its own order, the reference accumulates per example and updates in float64 before rounding),
 * so agreement is measured as a norm-based relative error |a − b| / |b|: over the whole parameter
 * vector after 50 steps, and over the vector of the 50 batch losses. Also: no tensor leak over many steps, the backend string,
 * and a short training run through the shared driver and the registry.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { parseTrainConfig } from '../../src/engines/config.js';
import { batchSequence, train } from '../../src/engines/driver.js';
import { initParameters } from '../../src/engines/init.js';
import { referenceEngine } from '../../src/engines/reference/index.js';
import { loadEngine } from '../../src/engines/registry.js';
import { stream } from '../../src/engines/rng.js';
import type { Dataset, KernelFactory, KernelOptions, ModelShape } from '../../src/engines/types.js';
import { ENGINE_VERSIONS } from '../../src/engines/versions.js';
import { loadTfjsEngine } from '../../src/engines/tfjs/index.js';
import { loadTf } from '../../src/engines/tfjs/backend.js';
import { toyDataset } from '../helpers/fixtures.js';

/** Tolerance of the relative errors (parameters after 50 steps, the 50 batch losses, evaluation loss). */
const TOLERANCE = 1e-4;
const STEPS = 50;

const toyData = (n: number, d: number, classes: number, seed = 1): Dataset =>
  toyDataset(n, d, classes, seed, 'uniform');

function relativeError(a: Float32Array, b: Float32Array): number {
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < a.length; i++) {
    diff += (a[i] - b[i]) ** 2;
    norm += b[i] * b[i];
  }
  return Math.sqrt(diff / norm);
}

interface Agreement {
  params: number;
  loss: number;
  eval: number;
}

/** Run both engines STEPS steps from the same start on the same batches; the worst relative errors. */
function compare(
  tfjs: KernelFactory,
  shape: ModelShape,
  data: Dataset,
  options: KernelOptions,
  batch: number,
): Agreement {
  const init = initParameters(shape, stream(3, 'init'));
  const ref = referenceEngine.createKernel(shape, data, options);
  const tfk = tfjs.createKernel(shape, data, options);
  try {
    ref.setParameters(init);
    tfk.setParameters(init);
    assert.deepEqual(tfk.getParameters(), init, 'parameters round-trip through the tf variables');
    const batches = batchSequence(5, data.n, batch);
    // The batch losses of the 50 steps as one vector: a single example's loss can fall to ~1e-9,
    // where float32 cancellation (logsumexp − z_y) makes a per-step relative error meaningless.
    const lossRef = new Float32Array(STEPS);
    const lossTf = new Float32Array(STEPS);
    for (let s = 0; s < STEPS; s++) {
      const rows = batches.next().value;
      lossRef[s] = ref.step(rows);
      lossTf[s] = tfk.step(rows);
      assert.ok(Number.isFinite(lossTf[s]), `step ${s}: loss ${lossTf[s]}`);
    }
    const lossErr = relativeError(lossTf, lossRef);
    const er = ref.evaluate(data);
    const et = tfk.evaluate(data);
    assert.equal(et.accuracy, er.accuracy, 'evaluation accuracy');
    return {
      params: relativeError(tfk.getParameters(), ref.getParameters()),
      loss: lossErr,
      eval: Math.abs(et.loss - er.loss) / er.loss,
    };
  } finally {
    tfk.dispose?.();
  }
}

const shapes: Array<[string, ModelShape, number]> = [
  ['logreg', { model: 'logreg', inputs: 30, hidden: 0, classes: 1 }, 0.5],
  ['softmax', { model: 'softmax', inputs: 30, hidden: 0, classes: 10 }, 0.5],
  ['mlp', { model: 'mlp', inputs: 30, hidden: 24, classes: 10 }, 0.2],
  ['mlp (sigmoid output)', { model: 'mlp', inputs: 30, hidden: 16, classes: 1 }, 0.2],
];

let tfjs: KernelFactory;
before(async () => {
  tfjs = await loadTfjsEngine();
});

describe('tfjs agrees with the reference over 50 steps', () => {
  const report: string[] = [];
  for (const [name, shape, lr] of shapes) {
    for (const momentum of [0, 0.9]) {
      for (const l2 of [0, 0.01]) {
        it(`${name}, m = ${momentum}, l2 = ${l2}`, () => {
          const data = toyData(80, shape.inputs, shape.classes);
          for (const batch of [1, 8, 80]) {
            const a = compare(tfjs, shape, data, { lr, momentum, l2 }, batch);
            report.push(
              `${tfjs.backend} ${name} m=${momentum} l2=${l2} B=${batch}: params ${a.params.toExponential(2)}, loss ${a.loss.toExponential(2)}, eval ${a.eval.toExponential(2)}`,
            );
            assert.ok(a.params <= TOLERANCE, `B=${batch}: parameter relative error ${a.params}`);
            assert.ok(a.loss <= TOLERANCE, `B=${batch}: batch loss relative error ${a.loss}`);
            assert.ok(a.eval <= TOLERANCE, `B=${batch}: evaluation loss relative error ${a.eval}`);
          }
        });
      }
    }
  }
  it('report', (t) => {
    for (const line of report) t.diagnostic(line);
  });
});

describe('tfjs kernel', () => {
  it('records its backend, name and version', async () => {
    assert.equal(tfjs.name, 'tfjs');
    assert.equal(tfjs.version, ENGINE_VERSIONS.tfjs);
    assert.match(tfjs.backend, /^tfjs-(node|wasm|cpu)$/);
    const { tf, backend } = await loadTf();
    const expected = { 'tfjs-node': 'tensorflow', 'tfjs-wasm': 'wasm', 'tfjs-cpu': 'cpu' }[backend];
    assert.equal(tf.getBackend(), expected);
    assert.equal(tfjs.backend, backend);
    assert.equal(await loadEngine('tfjs'), tfjs, 'the registry hands out the same factory');
  });

  it('does not leak tensors over 1000 steps and evaluations', async () => {
    const { tf } = await loadTf();
    const shape: ModelShape = { model: 'mlp', inputs: 30, hidden: 12, classes: 10 };
    const data = toyData(60, 30, 10);
    const base = tf.memory().numTensors;
    const kernel = tfjs.createKernel(shape, data, { lr: 0.05, momentum: 0.9, l2: 0.001 });
    kernel.setParameters(initParameters(shape, stream(1, 'init')));
    const batches = batchSequence(2, data.n, 10);
    const all = Int32Array.from({ length: data.n }, (_, i) => i);
    kernel.step(batches.next().value);
    kernel.step(all); // the full-batch path (may cache the transposed training set)
    kernel.step(Int32Array.from([7])); // the single-example path
    kernel.evaluate(data);
    const held = tf.memory().numTensors;
    for (let s = 0; s < 1000; s++) {
      kernel.step(batches.next().value);
      if (s % 100 === 0) {
        kernel.evaluate(data);
        kernel.evaluate(toyData(30, 30, 10, 9));
        kernel.getParameters();
        kernel.setParameters(kernel.getParameters());
      }
    }
    kernel.step(all);
    kernel.step(Int32Array.from([3]));
    assert.equal(tf.memory().numTensors, held, 'tensors held after 1000 steps');
    if (tf.getBackend() === 'wasm') {
      // The wasm heap only grows; it must not grow with the number of steps (XNNPACK operator cache).
      const heap = (): number => (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.length;
      const before = heap();
      for (let s = 0; s < 500; s++) kernel.step(batches.next().value);
      assert.equal(heap(), before, 'wasm heap size after 500 more steps');
    }
    kernel.dispose?.();
    assert.equal(tf.memory().numTensors, base, 'tensors held after dispose');
  });

  it('rejects bad batches and a wrong parameter count', () => {
    const shape: ModelShape = { model: 'softmax', inputs: 30, hidden: 0, classes: 10 };
    const kernel = tfjs.createKernel(shape, toyData(20, 30, 10), { lr: 0.1, momentum: 0, l2: 0 });
    try {
      assert.throws(() => kernel.step(new Int32Array(0)), /empty batch/);
      assert.throws(() => kernel.step(Int32Array.from([0, 20])), /outside/);
      assert.throws(() => kernel.setParameters(new Float32Array(3)), /expected 310/);
    } finally {
      kernel.dispose?.();
    }
  });

  it('trains an MNIST MLP through the shared driver like the reference does', () => {
    const cfg = (engine: 'tfjs' | 'reference') =>
      parseTrainConfig({
        engine,
        model: 'mlp',
        dataset: 'mnist',
        hidden: 32,
        n_train: 200,
        n_test: 500,
        batch_size: 20,
        lr: 0.1,
        momentum: 0.9,
        l2: 0.0001,
        steps: 50,
        seed: 4,
        eval_every: 25,
      });
    const t = train(cfg('tfjs'), tfjs);
    const r = train(cfg('reference'), referenceEngine);
    assert.equal(t.backend, tfjs.backend);
    assert.equal(t.engine, 'tfjs');
    assert.equal(t.engineVersion, ENGINE_VERSIONS.tfjs);
    assert.equal(t.diverged, false);
    assert.equal(t.curve.length, r.curve.length);
    for (let i = 0; i < t.curve.length; i++) {
      const a = t.curve[i];
      const b = r.curve[i];
      assert.ok(
        Math.abs(a.trainLoss - b.trainLoss) / b.trainLoss <= TOLERANCE,
        `train loss at step ${a.step}: ${a.trainLoss} vs ${b.trainLoss}`,
      );
      assert.ok(
        Math.abs(a.testLoss - b.testLoss) / b.testLoss <= TOLERANCE,
        `test loss at step ${a.step}: ${a.testLoss} vs ${b.testLoss}`,
      );
      assert.ok(Math.abs(a.testAccuracy - b.testAccuracy) <= 2 / 500, `test accuracy at step ${a.step}`);
    }
    assert.ok(t.testAccuracy > 0.5, `learned something: ${t.testAccuracy}`);
  });
});
