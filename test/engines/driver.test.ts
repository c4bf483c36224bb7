/** The shared training driver: batches, determinism, curve, progress, divergence; and the registry. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseTrainConfig, type TrainConfigInput } from '../../src/engines/config.js';
import { DIVERGED_LOSS_FACTOR, batchSequence, prepareTraining, train } from '../../src/engines/driver.js';
import { referenceEngine } from '../../src/engines/reference/index.js';
import {
  defaultEngine,
  engineUnavailableReason,
  loadEngine,
  loadEngineOrFallback,
} from '../../src/engines/registry.js';
import type { TrainProgress, TrainResult } from '../../src/engines/types.js';

function cfg(over: Partial<TrainConfigInput>) {
  return parseTrainConfig({
    engine: 'reference',
    model: 'logreg',
    dataset: 'synthetic',
    n_train: 100,
    n_test: 300,
    batch_size: 10,
    lr: 0.1,
    steps: 50,
    seed: 3,
    ...over,
  });
}

const withoutTime = (r: TrainResult) => ({ ...r, wallMs: 0 });

describe('batches', () => {
  it('B < n: indices drawn uniformly with replacement; B ≥ n: the whole set in order', () => {
    const gen = batchSequence(1, 10, 4);
    const counts = new Array(10).fill(0);
    let repeats = 0;
    for (let s = 0; s < 2000; s++) {
      const b = gen.next().value;
      assert.equal(b.length, 4);
      for (const i of b) counts[i]++;
      if (new Set(b).size < 4) repeats++;
    }
    assert.ok(repeats > 0, 'with replacement');
    for (const c of counts) assert.ok(Math.abs(c / 8000 - 0.1) < 0.02);
    for (const B of [10, 25])
      assert.deepEqual([...batchSequence(1, 10, B).next().value], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('the batch size changes neither the subset nor the initial weights; sequences replay', () => {
    const a = prepareTraining(cfg({ model: 'mlp', hidden: 8, dataset: 'mnist', n_train: 50, batch_size: 5 }));
    const b = prepareTraining(cfg({ model: 'mlp', hidden: 8, dataset: 'mnist', n_train: 50, batch_size: 7, lr: 2 }));
    assert.deepEqual(a.initialParams, b.initialParams);
    assert.deepEqual(a.train.x, b.train.x);
    const g1 = a.batchSequence();
    const g2 = a.batchSequence();
    for (let s = 0; s < 5; s++) assert.deepEqual(g1.next().value, g2.next().value);
  });
});

describe('train()', () => {
  it('is bit-for-bit reproducible', () => {
    const c = cfg({
      model: 'mlp',
      hidden: 16,
      dataset: 'mnist',
      n_train: 200,
      n_test: 200,
      momentum: 0.9,
      steps: 60,
      eval_every: 20,
    });
    const r1 = train(c, referenceEngine);
    const r2 = train(c, referenceEngine);
    assert.deepEqual(withoutTime(r1), withoutTime(r2));
    // Parameters too, driving two kernels from prepareTraining.
    const run = () => {
      const p = prepareTraining(c);
      const k = referenceEngine.createKernel(p.shape, p.train, { lr: c.lr, momentum: c.momentum, l2: c.l2 });
      k.setParameters(p.initialParams);
      const it = p.batchSequence();
      for (let s = 0; s < 30; s++) k.step(it.next().value);
      return k.getParameters();
    };
    assert.deepEqual(run(), run());
  });

  it('fills the result and a curve at step 0, every eval_every steps and at the end', () => {
    const r = train(cfg({ steps: 45, eval_every: 20 }), referenceEngine);
    assert.deepEqual(
      r.curve.map((p) => p.step),
      [0, 20, 40, 45],
    );
    assert.equal(r.stepsDone, 45);
    assert.equal(r.diverged, false);
    assert.equal(r.engine, 'reference');
    assert.equal(r.engineVersion, referenceEngine.version);
    assert.equal(r.backend, 'typescript');
    const last = r.curve[3];
    assert.equal(last.testAccuracy, r.testAccuracy);
    assert.equal(last.testLoss, r.testLoss);
    assert.equal(last.trainLoss, r.trainLoss);
    assert.ok(r.curve[0].trainLoss > r.trainLoss);
    assert.ok(r.wallMs > 0);
    assert.deepEqual(
      train(cfg({ steps: 45 }), referenceEngine).curve.map((p) => p.step),
      [45],
    );
    assert.deepEqual(
      train(cfg({ steps: 0 }), referenceEngine).curve.map((p) => p.step),
      [0],
    );
  });

  it('reports progress with the running mean loss, no more often than asked', () => {
    const seen: TrainProgress[] = [];
    train(cfg({ steps: 400 }), referenceEngine, { onProgress: (p) => seen.push(p), progressIntervalMs: 0 });
    assert.ok(seen.length >= 10);
    for (const p of seen) {
      assert.equal(p.totalSteps, 400);
      assert.ok(Number.isFinite(p.loss) && p.loss > 0);
    }
    assert.ok(seen.every((p, i) => i === 0 || p.step > seen[i - 1].step));
    const few: TrainProgress[] = [];
    train(cfg({ steps: 400 }), referenceEngine, { onProgress: (p) => few.push(p), progressIntervalMs: 60_000 });
    assert.equal(few.length, 0);
  });

  it('a huge learning rate diverges into a valid result, not a throw', () => {
    const r = train(
      cfg({ features: 10, n_train: 200, labels: 'random', lr: 1e38, momentum: 0.9, steps: 500, eval_every: 100 }),
      referenceEngine,
    );
    assert.equal(r.diverged, true);
    assert.ok(r.stepsDone >= 1 && r.stepsDone < 500, `stepsDone ${r.stepsDone}`);
    assert.ok(r.testAccuracy >= 0 && r.testAccuracy <= 1);
    assert.ok(r.trainAccuracy >= 0 && r.trainAccuracy <= 1);
    assert.equal(r.curve[r.curve.length - 1].step, r.stepsDone);
    const m = train(
      cfg({ model: 'softmax', dataset: 'mnist', n_train: 100, labels: 'random', lr: 1e38, momentum: 0.9, steps: 200 }),
      referenceEngine,
    );
    assert.equal(m.diverged, true);
  });
});

describe('divergence beyond NaN', () => {
  it('a finite loss far above chance is marked diverged, and the run is not cut short', () => {
    const blown = train(cfg({ features: 10, n_train: 200, labels: 'random', lr: 1e4, steps: 100 }), referenceEngine);
    assert.ok(Number.isFinite(blown.trainLoss), `finite loss ${blown.trainLoss}`);
    assert.ok(blown.trainLoss > DIVERGED_LOSS_FACTOR * Math.log(2), `loss ${blown.trainLoss} far above ln 2`);
    assert.equal(blown.diverged, true);
    assert.equal(blown.stepsDone, 100, 'the trajectory is not changed: every step is trained');
    const sane = train(cfg({ features: 10, n_train: 200, labels: 'random', lr: 1, steps: 100 }), referenceEngine);
    assert.equal(sane.diverged, false);
  });
});

describe('registry', () => {
  it('always has the reference engine; missing engines fail with one line', async () => {
    assert.equal(await loadEngine('reference'), referenceEngine);
    const nativeMissing = engineUnavailableReason('native');
    assert.equal(defaultEngine(), nativeMissing === null ? 'native' : 'reference');
    if (nativeMissing !== null) {
      await assert.rejects(
        loadEngine('native'),
        (e: Error) =>
          /^engine "native" is not built on this machine \(.+\)$/.test(e.message) && !e.message.includes('\n'),
      );
      const fb = await loadEngineOrFallback('native');
      assert.equal(fb.factory, referenceEngine);
      assert.match(fb.warning ?? '', /^engine "native" is not built on this machine \(.+\); using reference$/);
    }
    const tfjs = await loadEngineOrFallback('tfjs');
    if (tfjs.warning)
      assert.match(tfjs.warning, /^engine "tfjs" is not available on this machine \(.+\); using reference$/);
  });
});
