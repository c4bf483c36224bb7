import assert from 'node:assert/strict';
import { test } from 'node:test';
import { drawChart, lineText } from '../../src/ui/chart.js';
import { ANALYSIS_WINDOW, fitSweep, type RunRow } from '../../src/analysis/fit.js';
import { ScienceAccumulator } from '../../src/ui/science.js';
import { applyEvent, createState, reduce, snapshot } from '../../src/ui/state.js';
import { params, sweepEvents, toyAccuracy } from './events.js';

test('counts, failures and running lanes follow the event stream', () => {
  const vm = reduce(sweepEvents(), 60_000, 0);
  assert.deepEqual(vm.counts, { pending: 0, running: 2, done: 18, failed: 1 });
  assert.equal(vm.total, 21);
  assert.equal(vm.phase, 'running');
  assert.deepEqual(
    vm.running.map((w) => [w.lane, w.step, w.loss]),
    [
      [0, 250, 0.25],
      [1, 500, 1.25],
    ],
  );
  assert.equal(vm.failures.length, 1);
  assert.equal(vm.failures[0]!.error, 'loss became NaN at step 17');
  assert.ok(vm.failures[0]!.final);
  assert.equal(vm.tasksPerMinute, 18);
});

test('ETA is remaining cost over cost throughput, counting partially trained tasks', () => {
  const p = params({ batch_size: 10, steps: 100 }); // cost 1000 each in this stream
  const events = [
    {
      type: 'sweep-start',
      sweep: 's',
      database: 'd',
      engine: 'e',
      workers: 1,
      counts: { pending: 4, running: 0, done: 0, failed: 0 },
      remainingCost: 4000,
      totalCost: 4000,
    },
    { type: 'task-start', key: 'a', params: p, lane: 0, attempt: 1, cost: 1000 },
    {
      type: 'task-done',
      key: 'a',
      params: p,
      lane: 0,
      cost: 1000,
      testAccuracy: 0.9,
      trainAccuracy: 1,
      diverged: false,
      wallMs: 1,
    },
    { type: 'task-start', key: 'b', params: p, lane: 0, attempt: 1, cost: 1000 },
    { type: 'task-progress', key: 'b', lane: 0, step: 50, totalSteps: 100, loss: 1 },
  ] as const;
  // 1500 cost units in 15 s = 100/s; 2500 left -> 25 s. A naive count ETA would say 3 tasks x 15 s.
  const vm = reduce([...events], 15_000, 0);
  assert.equal(vm.etaMs, 25_000);
  assert.equal(vm.fraction, 1500 / 4000);
  // A final failure drops the task's cost from what is left.
  const state = createState(0);
  for (const e of events) applyEvent(state, e, 0);
  applyEvent(state, { type: 'task-failed', key: 'b', params: p, lane: 0, attempts: 3, error: 'x' }, 10_000);
  const after = snapshot(state, 10_000);
  assert.deepEqual(after.counts, { pending: 2, running: 0, done: 1, failed: 1 });
  assert.equal(after.etaMs, 20_000); // 1000 done in 10 s, 2000 left
});

test('applyEvent is O(1): 200k progress events fold in well under a second', () => {
  const state = createState(0);
  const [start, ...rest] = sweepEvents();
  applyEvent(state, start!, 0);
  const p = params();
  applyEvent(state, { type: 'task-start', key: 'k', params: p, lane: 0, attempt: 1, cost: 1 }, 0);
  const t0 = performance.now();
  for (let i = 0; i < 200_000; i++)
    applyEvent(state, { type: 'task-progress', key: 'k', lane: 0, step: i % 1000, totalSteps: 1000, loss: 1 }, 0);
  assert.ok(performance.now() - t0 < 1000);
  assert.ok(rest.length > 0);
});

/** Accuracy near the toy peak with a seed- and B-dependent wobble, so the parabola vertex is off the grid. */
const wobbly = (lr: number, b: number, seed: number): number =>
  toyAccuracy(lr, b) + 0.004 * Math.sin(3 * b + 7 * lr + seed) + seed * 0.001;

/** The same results into the panel and into `bopt fit`'s analysis (src/analysis fitSweep). */
function bothWays(sweep: Array<{ lr: number; momentum: number; b: number; seed: number }>) {
  const acc = new ScienceAccumulator();
  const rows: RunRow[] = [];
  for (const r of sweep) {
    const a = wobbly(r.lr, r.b, r.seed);
    acc.add(params({ lr: r.lr, momentum: r.momentum, batch_size: r.b, seed: r.seed }), a);
    rows.push({ lr: r.lr, momentum: r.momentum, batch_size: r.b, n_train: 1000, seed: r.seed, test_accuracy: a });
  }
  return { view: acc.summarize(), rows };
}

function fitOf(rows: RunRow[]) {
  return fitSweep(rows, { window: ANALYSIS_WINDOW, bootstrap: 0 });
}

const close = (a: number, b: number, what: string): void =>
  assert.ok(Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);

test("science: groups by the swept variable; B_opt and the fit through the origin are bopt fit's numbers", () => {
  const grid = [0.5, 1, 2, 4].flatMap((lr) =>
    [8, 16, 32, 64, 128, 256, 512].flatMap((b) => [0, 1].map((seed) => ({ lr, momentum: 0.9, b, seed }))),
  );
  const { view, rows } = bothWays(grid);
  const fit = fitOf(rows);
  assert.equal(view.variable, 'lr');
  assert.deepEqual(
    view.groups.map((g) => [g.label, g.bOptGrid]),
    [
      ['eps=0.5', 32],
      ['eps=1', 64],
      ['eps=2', 128],
      ['eps=4', 256],
    ],
  );
  assert.equal(view.groups[0]!.points[0]!.runs, 2);
  assert.equal(fit.groups.length, view.groups.length);
  view.groups.forEach((g, i) => {
    close(g.bOpt, fit.groups[i]!.bOpt, `B_opt of ${g.label}`);
    assert.equal(g.method, fit.groups[i]!.method);
  });
  assert.ok(
    view.groups.some((g) => g.method === 'parabola' && g.bOpt !== g.bOptGrid),
    'the vertex is off the grid',
  );
  close(view.fit!.slope, fit.line!.slope, 'slope');
  close(view.fit!.r2, fit.line!.r2, 'R²');
  close(view.fit!.exponent, fit.line!.exponent, 'exponent');
  assert.equal(view.fit!.groups, fit.line!.groups);

  // momentum: x = 1/(1-m), the same in both
  const m = bothWays(
    [0, 0.5, 0.9].flatMap((momentum) => [8, 32, 128, 512].map((b) => ({ lr: 1, momentum, b, seed: 0 }))),
  );
  assert.equal(m.view.variable, 'momentum');
  assert.equal(m.view.fit!.xLabel, '1/(1-m)');
  const mFit = fitOf(m.rows);
  close(m.view.fit!.slope, mFit.line!.slope, 'momentum slope');
  close(m.view.fit!.exponent, mFit.line!.exponent, 'momentum exponent');
});

test('science: with two swept variables there is no fit, as bopt fit refuses one', () => {
  const { view, rows } = bothWays(
    [0.5, 1].flatMap((lr) => [0, 0.9].flatMap((momentum) => [16, 64].map((b) => ({ lr, momentum, b, seed: 0 })))),
  );
  assert.throws(() => fitOf(rows), /more than one of lr, n_train, momentum varies \(lr, momentum\)/);
  assert.deepEqual(view.varying, ['lr', 'momentum']);
  assert.equal(view.variable, null);
  assert.equal(view.fit, null);
  assert.deepEqual(
    view.groups.map((g) => g.label),
    ['eps=0.5 m=0', 'eps=0.5 m=0.9', 'eps=1 m=0', 'eps=1 m=0.9'],
  );
});

test('science: n_train sweeps group by N; only batch size varying gives one group and no fit', () => {
  const a = new ScienceAccumulator();
  for (const n of [1000, 4000])
    for (const b of [16, 64]) a.add(params({ n_train: n, batch_size: b }), b === 16 ? 0.9 : 0.8);
  assert.equal(a.summarize().variable, 'n_train');
  assert.equal(a.summarize().groups[1]!.label, 'N=4000');
  const one = new ScienceAccumulator();
  one.add(params({ batch_size: 16 }), 0.9);
  one.add(params({ batch_size: 64 }), 0.8);
  assert.equal(one.summarize().variable, null);
  assert.equal(one.summarize().groups[0]!.label, 'all');
  assert.equal(one.summarize().fit, null);
});

test('chart: one symbol per group, B_opt marked under the axis at its batch size', () => {
  const acc = new ScienceAccumulator();
  for (const lr of [0.5, 2])
    for (const b of [8, 32, 128, 512]) acc.add(params({ lr, batch_size: b }), toyAccuracy(lr, b));
  const lines = drawChart(acc.summarize().groups, 60, 8).map(lineText);
  assert.equal(lines.length, 8 + 3);
  for (const l of lines) assert.ok(l.length <= 60, l);
  const ticks = lines[9]!;
  const marks = lines[10]!;
  assert.match(marks, /^ B_opt/);
  // eps=0.5 peaks at 32, eps=2 at 128: 'o' under the 32 tick, 'x' under the 128 tick.
  assert.equal(marks[ticks.indexOf(' 32 ') + 1], 'o');
  assert.equal(marks[ticks.indexOf('128')], 'x');
  assert.match(lines[0]!, /0\.950│/);
});
