import assert from 'node:assert/strict';
import { test } from 'node:test';
import { curveClaims } from '../../src/analysis/claims.js';
import type { CurveRow } from '../../src/analysis/data.js';
import type { RunRow } from '../../src/analysis/fit.js';

const run = (batch_size: number, seed: number, test_accuracy: number, l2 = 0): RunRow => ({
  lr: 0.1,
  batch_size,
  n_train: 1000,
  momentum: 0.9,
  seed,
  l2,
  test_accuracy,
});

/** A test cross-entropy curve that falls to `low` at step 2 and ends at `end`. */
const curve = (batch_size: number, seed: number, low: number, end: number): CurveRow[] =>
  [2.3, 1.0, low, (low + end) / 2, end].map((test_loss, step) => ({
    task_key: `${batch_size}-${seed}`,
    batch_size,
    lr: 0.1,
    l2: 0,
    seed,
    step: step * 100,
    train_loss: null,
    test_loss,
    test_accuracy: null,
  }));

test('Figure 3: a clear small-batch advantage and rising cross-entropies hold', () => {
  const rows = [run(30, 0, 0.91), run(30, 1, 0.912), run(1000, 0, 0.885), run(1000, 1, 0.884)];
  const curves = [
    ...curve(30, 0, 0.41, 0.47),
    ...curve(30, 1, 0.42, 0.48),
    ...curve(1000, 0, 0.42, 0.66),
    ...curve(1000, 1, 0.43, 0.67),
  ];
  const [gap, overfit] = curveClaims(rows, curves);
  assert.equal(gap!.verdict, 'holds');
  assert.match(gap!.evidence, /B = 30: 0\.911, B = 1000: 0\.885/);
  assert.equal(overfit!.verdict, 'holds');
});

test('Figure 8: with L2 a gap that stays open does not hold; a closed one holds; a flat curve is no over-fitting', () => {
  const open = [run(30, 0, 0.67, 0.1), run(30, 1, 0.66, 0.1), run(1000, 0, 0.85, 0.1), run(1000, 1, 0.855, 0.1)];
  const flat = [...curve(30, 0, 0.9, 0.9), ...curve(1000, 0, 0.8, 0.8)];
  const [gap, overfit] = curveClaims(open, flat);
  assert.equal(gap!.verdict, 'does not hold');
  assert.match(gap!.claim, /largely closes/);
  assert.equal(overfit!.verdict, 'does not hold');
  const closed = [run(30, 0, 0.9, 0.1), run(30, 1, 0.902, 0.1), run(1000, 0, 0.898, 0.1), run(1000, 1, 0.9, 0.1)];
  assert.equal(curveClaims(closed, flat)[0]!.verdict, 'holds');
});

test('sweeps with other than two batch sizes get no curve claims', () => {
  assert.deepEqual(curveClaims([run(1, 0, 0.5), run(10, 0, 0.6), run(100, 0, 0.7)], []), []);
});
