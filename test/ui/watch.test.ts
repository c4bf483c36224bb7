import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { render } from 'ink-testing-library';
import { createElement } from 'react';
import { App } from '../../src/ui/app.js';
import { SweepWatcher } from '../../src/ui/watch.js';
import { SweepStore } from '../../src/storage/store.js';
import { fitCommand } from '../../src/cli/commands/science.js';
import { fakeResult, rowOf, tempDir, tinySweep } from '../helpers/index.js';

test('watch: the view model from the database (counts, heartbeat progress, failures, B_opt from runs)', () => {
  const { dir, cleanup } = tempDir();
  const path = join(dir, 'w.sqlite');
  const store = SweepStore.open(path);
  try {
    const a = tinySweep('w', [0], { batch_size: 10, lr: 0.1 }).tasks;
    const b = tinySweep('w', [0], { batch_size: 40, lr: 0.1 }).tasks;
    const c = tinySweep('w', [0], { batch_size: 10, lr: 0.4 }).tasks;
    const d = tinySweep('w', [0], { batch_size: 40, lr: 0.4 }).tasks;
    const e = tinySweep('w', [1], { batch_size: 40, lr: 0.4 }).tasks;
    const sweep = { ...tinySweep('w', []), tasks: [...a, ...b, ...c, ...d, ...e] };
    const { sweepId } = store.registerSweep(sweep, 't');
    store.acquireLease(sweepId, 'w', 'holder', 60_000);
    const acc = [0.8, 0.7, 0.6, 0.9];
    [a, b, c, d].forEach((t, i) => {
      store.claimTask(t[0]!.key, 'holder');
      store.completeTask(t[0]!.key, fakeResult({ testAccuracy: acc[i]! }), 'x');
    });
    store.claimTask(e[0]!.key, 'holder');
    store.publishProgress('holder', [{ key: e[0]!.key, lane: 1, step: 3, totalSteps: 5, loss: 0.7 }]);

    const watcher = new SweepWatcher(path);
    try {
      const vm = watcher.poll();
      assert.equal(vm.mode, 'watch');
      assert.equal(vm.sweep, 'w');
      assert.equal(vm.phase, 'running');
      assert.deepEqual(vm.counts, { pending: 0, running: 1, done: 4, failed: 0 });
      assert.deepEqual(
        vm.running.map((w) => [w.lane, w.step, w.totalSteps, w.loss]),
        [[1, 3, 5, 0.7]],
      );
      assert.equal(vm.science.variable, 'lr');
      assert.deepEqual(
        vm.science.groups.map((g) => [g.label, g.bOpt]),
        [
          ['eps=0.1', 10],
          ['eps=0.4', 40],
        ],
      );
      assert.ok(vm.fraction > 0.5 && vm.fraction < 1);
      assert.match(vm.note!, /run by pid \d+/);

      store.recordFailure(e[0]!.key, 'holder', 'lane-1', 'out of memory', true);
      store.releaseLease(sweepId, 'holder');
      const later = watcher.poll();
      assert.deepEqual(later.counts, { pending: 0, running: 0, done: 4, failed: 1 });
      assert.equal(later.phase, 'complete');
      assert.equal(later.failures[0]!.error, 'out of memory');
      const r = render(createElement(App, { vm: later, color: false, readOnly: true, columns: 80, rows: 30 }));
      const frame = r.lastFrame()!;
      r.unmount();
      assert.match(frame, /bopt watch {2}w {2}complete/);
      assert.match(frame, /done 4\/5 · running 0 · pending 0 · failed 1/);
      assert.match(frame, /q quit · tab panels/);
      assert.match(frame, /out of memory/);
    } finally {
      watcher.close();
    }
  } finally {
    store.close();
    cleanup();
  }
});

test('watch: the science panel fits the stored results to the numbers `bopt fit` reports and stores', () => {
  const { dir, cleanup } = tempDir();
  const path = join(dir, 'f.sqlite');
  const store = SweepStore.open(path);
  try {
    const lrs = [0.05, 0.1, 0.2];
    const batches = [2, 4, 8, 16, 32];
    const tasks = lrs.flatMap((lr) => batches.flatMap((b) => tinySweep('f', [0, 1], { lr, batch_size: b }).tasks));
    store.registerSweep({ ...tinySweep('f', []), tasks }, 't');
    for (const t of tasks) {
      // a peak near B = 100 eps, uneven enough that the parabola's vertex falls between grid points
      const { lr, batch_size: b, seed } = t.params;
      const acc = 0.9 - 0.03 * Math.log(b / (100 * lr)) ** 2 + 0.002 * Math.sin(5 * b + seed);
      store.claimTask(t.key, 'h');
      store.completeTask(t.key, fakeResult({ testAccuracy: acc }), 'x');
    }
    const watcher = new SweepWatcher(path, 'f');
    let panel;
    try {
      panel = watcher.poll().science;
    } finally {
      watcher.close();
    }
    const reported = JSON.parse(fitCommand('f', { db: path, format: 'json', bootstrap: 0 })) as {
      fit: { groups: Array<{ bOpt: number }>; line: { slope: number; r2: number; exponent: number; groups: number } };
    };
    const stored = rowOf(path, "SELECT slope, r2, exponent FROM fit_lines WHERE sweep = 'f'") as Record<string, number>;
    const close = (a: number, b: number, what: string): void =>
      assert.ok(Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b)), `${what}: panel ${a}, bopt fit ${b}`);
    assert.equal(panel.variable, 'lr');
    assert.ok(panel.fit, 'the panel fits');
    assert.deepEqual(
      panel.groups.map((g) => g.bOpt.toPrecision(12)),
      reported.fit.groups.map((g) => g.bOpt.toPrecision(12)),
    );
    assert.ok(
      panel.groups.some((g) => g.method === 'parabola'),
      'a continuous estimate is compared',
    );
    for (const k of ['slope', 'r2', 'exponent'] as const) {
      close(panel.fit[k], reported.fit.line[k], k);
      close(panel.fit[k], stored[k]!, `stored ${k}`);
    }
    assert.equal(panel.fit.groups, reported.fit.line.groups);
  } finally {
    store.close();
    cleanup();
  }
});
