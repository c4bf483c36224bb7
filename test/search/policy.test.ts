import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { rng32 } from '../../src/analysis/fit.js';
import {
  batchLattice,
  equivalentGridTasks,
  epochBudget,
  pointEpochs,
  predictBopt,
  searchGroup,
  type Observation,
  type SearchSettings,
} from '../../src/search/policy.js';

const SETTINGS: SearchSettings = {
  from: 1,
  to: 1000,
  resolution: 1.25,
  coarse: 6,
  seeds: 2,
  peakSeeds: 5,
  noiseZ: 1,
  maxTasks: 80,
};

/** A peak of known position: accuracy falls as a parabola in ln B, plus seed noise; B far below diverges. */
function objective(peakB: number, width: number, noise: number, seedOfInstance: number) {
  return (b: number, seed: number): number | null => {
    if (b < peakB / 60) return null;
    const r = rng32(seedOfInstance * 100_003 + b * 101 + seed);
    const gauss = Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r());
    return 0.9 - 0.02 * (Math.log(b / peakB) / width) ** 2 + noise * gauss;
  };
}

/** Runs the search to the end, training each proposed round with `f`. */
function runSearch(s: SearchSettings, f: (b: number, seed: number) => number | null, prior: number | null = null) {
  const results: Observation[] = [];
  for (let guard = 0; guard < 200; guard++) {
    const state = searchGroup(s, results, prior);
    if (state.phase === 'done') return { state, results };
    for (const p of state.next.filter((q) => !results.some((o) => o.batchSize === q.batchSize && o.seed === q.seed)))
      results.push({ ...p, accuracy: f(p.batchSize, p.seed) });
  }
  throw new Error('search did not stop');
}

describe('search policy', () => {
  it('builds a lattice of distinct integers spaced by the resolution', () => {
    const l = batchLattice(SETTINGS);
    assert.equal(l[0], 1);
    assert.equal(l[l.length - 1], 1000);
    for (let i = 1; i < l.length; i++) {
      assert.ok(l[i] > l[i - 1]);
      assert.ok(l[i] / l[i - 1] <= 2.01);
    }
  });

  it('finds a known peak within its resolution in most random instances with a third of the grid', () => {
    const r = rng32(7);
    const instances = 60;
    let hits = 0;
    let tasks = 0;
    for (let k = 0; k < instances; k++) {
      const peakB = Math.exp(Math.log(4) + r() * (Math.log(250) - Math.log(4)));
      const width = 0.6 + r(); // peak half-width in ln B where accuracy drops 0.02
      const { state } = runSearch(SETTINGS, objective(peakB, width, 0.002, k));
      tasks += state.tasksUsed;
      if (Math.abs(Math.log(state.best!.batchSize / peakB)) <= Math.log(SETTINGS.resolution)) hits++;
    }
    const grid = equivalentGridTasks(SETTINGS);
    const meanTasks = tasks / instances;
    console.log(
      `search: ${hits}/${instances} within x${SETTINGS.resolution}, ${meanTasks.toFixed(1)} tasks vs grid ${grid}`,
    );
    assert.ok(hits >= 0.8 * instances, `${hits}/${instances} found`);
    assert.ok(meanTasks <= grid / 3, `${meanTasks} tasks vs grid ${grid}`);
  });

  it('is a pure function of the stored results: shuffled, partial or extra results give the same rounds', () => {
    const f = objective(40, 1, 0.002, 3);
    const { results, state } = runSearch(SETTINGS, f);
    const shuffled = [...results].reverse();
    assert.deepEqual(searchGroup(SETTINGS, shuffled), state);
    // A result of a point the search never proposed (say from a grid) does not change its course.
    const extra = [...results, { batchSize: 7, seed: 9, accuracy: 0.99 }];
    assert.deepEqual(searchGroup(SETTINGS, extra).best, state.best);
    // Results of a later round that arrived before an earlier round finished do not change the next round.
    const first = searchGroup(SETTINGS, []).next;
    const partial = results.filter((o) => !(o.batchSize === first[0].batchSize && o.seed === first[0].seed));
    assert.deepEqual(searchGroup(SETTINGS, partial).next, first);
  });

  it('never proposes a batch size above the first full-batch one', () => {
    const nTrain = 300;
    const f = objective(400, 1.5, 0.002, 7); // the peak lies past N: the search walks up to full batch
    const results: Observation[] = [];
    for (let guard = 0; guard < 200; guard++) {
      const state = searchGroup(SETTINGS, results, null, { nTrain, steps: 100 });
      if (state.phase === 'done') break;
      for (const p of state.next) {
        if (!results.some((o) => o.batchSize === p.batchSize && o.seed === p.seed))
          results.push({ ...p, accuracy: f(Math.min(p.batchSize, nTrain), p.seed) });
      }
    }
    const firstFull = batchLattice(SETTINGS).find((b) => b >= nTrain)!;
    assert.ok(results.length > 0);
    assert.ok(
      results.every((o) => o.batchSize <= firstFull),
      `proposed ${Math.max(...results.map((o) => o.batchSize))}`,
    );
    assert.ok(
      results.some((o) => o.batchSize === firstFull),
      'the full-batch point is still measured',
    );
  });

  it('stops at a budget in epochs, counting min(B, N) per step', () => {
    const shape = { nTrain: 500, steps: 1000 };
    const maxEpochs = 4000;
    const f = objective(120, 1.5, 0.002, 11);
    const results: Observation[] = [];
    let state = searchGroup({ ...SETTINGS, maxEpochs }, results, null, shape);
    for (let guard = 0; guard < 200 && state.phase !== 'done'; guard++) {
      for (const p of state.next) {
        if (!results.some((o) => o.batchSize === p.batchSize && o.seed === p.seed))
          results.push({ ...p, accuracy: f(p.batchSize, p.seed) });
      }
      state = searchGroup({ ...SETTINGS, maxEpochs }, results, null, shape);
    }
    const spent = state.used.reduce((a, p) => a + pointEpochs(shape, p.batchSize), 0);
    assert.equal(state.stopped, 'budget');
    assert.ok(spent <= maxEpochs, `spent ${spent} epochs`);
    const unlimited = runSearch(SETTINGS, f);
    assert.ok(state.tasksUsed < unlimited.state.tasksUsed);
  });

  it('a budget in examples is max_examples / N epochs: the larger N, the fewer epochs', () => {
    const f = objective(120, 1.5, 0.002, 11);
    const spentAt = (nTrain: number, budget: Partial<SearchSettings>) => {
      const shape = { nTrain, steps: 1000 };
      const results: Observation[] = [];
      let state = searchGroup({ ...SETTINGS, ...budget }, results, null, shape);
      for (let guard = 0; guard < 200 && state.phase !== 'done'; guard++) {
        for (const p of state.next)
          if (!results.some((o) => o.batchSize === p.batchSize && o.seed === p.seed))
            results.push({ ...p, accuracy: f(p.batchSize, p.seed) });
        state = searchGroup({ ...SETTINGS, ...budget }, results, null, shape);
      }
      return { state, epochs: state.used.reduce((a, p) => a + pointEpochs(shape, p.batchSize), 0) };
    };
    const small = spentAt(500, { maxExamples: 2e6 });
    const large = spentAt(1000, { maxExamples: 2e6 });
    assert.equal(large.state.stopped, 'budget');
    assert.ok(small.epochs <= 4000 && large.epochs <= 2000, `${small.epochs}, ${large.epochs} epochs`);
    // The same search as the equivalent budget in epochs, and the tighter of two budgets wins.
    assert.deepEqual(large.state.used, spentAt(1000, { maxEpochs: 2000 }).state.used);
    assert.deepEqual(
      spentAt(1000, { maxEpochs: 1500, maxExamples: 2e6 }).state.used,
      spentAt(1000, { maxEpochs: 1500 }).state.used,
    );
    assert.equal(epochBudget({ ...SETTINGS, maxEpochs: 1500, maxExamples: 2e6 }, { nTrain: 1000, steps: 1 }), 1500);
    assert.equal(epochBudget({ ...SETTINGS, maxExamples: 2e6 }, { nTrain: 1000, steps: 1 }), 2000);
    assert.equal(epochBudget(SETTINGS, { nTrain: 1000, steps: 1 }), undefined);
  });

  it('counts failed runs as below the peak', () => {
    const f = (b: number, seed: number): number | null => (b <= 100 ? null : 0.5 + seed * 0.001 - b * 1e-5);
    const { state } = runSearch(SETTINGS, f);
    assert.ok(state.best!.batchSize > 100);
    assert.ok(state.best!.batchSize < 140);
  });

  it('stops at the budget', () => {
    const { state } = runSearch({ ...SETTINGS, maxTasks: 15 }, objective(40, 1, 0.002, 1));
    assert.equal(state.tasksUsed, 15);
    assert.equal(state.stopped, 'budget');
  });

  it('starts around a theory prediction and spends fewer tasks there', () => {
    const r = rng32(11);
    let withPrior = 0;
    let without = 0;
    let hits = 0;
    for (let k = 0; k < 30; k++) {
      const peakB = Math.exp(Math.log(4) + r() * (Math.log(250) - Math.log(4)));
      const f = objective(peakB, 1, 0.002, k);
      const prior = peakB * Math.exp((r() - 0.5) * 0.6); // a prediction off by up to 35 %
      const a = runSearch(SETTINGS, f, prior).state;
      withPrior += a.tasksUsed;
      without += runSearch(SETTINGS, f).state.tasksUsed;
      if (Math.abs(Math.log(a.best!.batchSize / peakB)) <= Math.log(SETTINGS.resolution)) hits++;
    }
    console.log(`prior: ${withPrior / 30} tasks vs ${without / 30} without, ${hits}/30 found`);
    assert.ok(withPrior < without);
    assert.ok(hits >= 24);
  });

  it('predicts B_opt from the constant optimal noise scale', () => {
    // g = 1 · 1000 / (10 · 0.1) = 1000 in both groups; N = 4000 then needs B = 40.
    const p = predictBopt(
      [
        { lr: 1, nTrain: 1000, momentum: 0.9, bopt: 10 },
        { lr: 1, nTrain: 2000, momentum: 0.9, bopt: 20 },
      ],
      { lr: 1, nTrain: 4000, momentum: 0.9 },
    );
    assert.ok(p);
    assert.ok(Math.abs(p.bopt - 40) < 1e-9);
    assert.equal(
      predictBopt([{ lr: 1, nTrain: 1000, momentum: 0.9, bopt: 10 }], { lr: 1, nTrain: 1, momentum: 0 }),
      null,
    );
  });
});
