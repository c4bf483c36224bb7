import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  costFraction,
  liveLease,
  storedPhase,
  storedProgress,
  throughput,
  THROUGHPUT_WINDOW_MS,
} from '../../src/scheduler/progress.js';
import { SweepStore } from '../../src/storage/store.js';
import { fakeResult, tempDir, tinySweep } from '../helpers/index.js';

const measure = { tasks: 6, cost: 3000, spanMs: 60_000, leftCost: 6000, active: true, ended: false };

test('throughput: tasks per minute over the span, ETA = cost left / cost per ms', () => {
  assert.deepEqual(throughput(measure), { tasksPerMinute: 6, etaMs: 120_000, etaMaxMs: null });
  assert.equal(throughput({ ...measure, ended: true }).etaMs, 0, 'over: nothing to wait for');
  assert.equal(throughput({ ...measure, active: false }).etaMs, null, 'nothing trains: no ETA');
  assert.equal(throughput({ ...measure, leftCost: 0 }).etaMs, 0);
  assert.equal(throughput({ ...measure, cost: 0 }).etaMs, null, 'no rate yet');
  assert.equal(throughput({ ...measure, spanMs: 999 }).tasksPerMinute, null, 'under a second: no rate');
  assert.equal(throughput({ ...measure, tasks: 0 }).tasksPerMinute, null);
  // a search's later rounds at the same cost rate: expected 1500 more, at most 4500 more
  const search = { ...measure, laterCost: { expected: 1500, max: 4500 } };
  assert.deepEqual(throughput(search), { tasksPerMinute: 6, etaMs: 150_000, etaMaxMs: 210_000 });
  assert.deepEqual(throughput({ ...search, ended: true }), { tasksPerMinute: 6, etaMs: 0, etaMaxMs: 0 });
  assert.equal(throughput({ ...search, cost: 0 }).etaMaxMs, null, 'no rate: no bound');
  assert.equal(costFraction(250, 1000, false), 0.75);
  assert.equal(costFraction(0, 0, false), 0);
  assert.equal(costFraction(0, 0, true), 1);
  assert.equal(costFraction(2000, 1000, false), 0, 'clamped');
});

test('stored phase: running while the lease lives, then stopped with work left, or complete', () => {
  const lease = { holder: 'h', pid: 1, host: 'x', heartbeatAt: 0, expiresAt: 1000 };
  const left = { pending: 1, running: 0, done: 1, failed: 0 };
  assert.equal(storedPhase(left, lease, 999), 'running');
  assert.equal(liveLease(lease, 1000), undefined, 'expired at its expiry time');
  assert.equal(storedPhase(left, lease, 1000), 'stopped');
  assert.equal(storedPhase({ ...left, pending: 0 }, undefined, 0), 'complete');
});

test('stored progress: finished tasks in the window plus the trained share of running ones', () => {
  const { dir, cleanup } = tempDir();
  const store = SweepStore.open(join(dir, 'p.sqlite'));
  try {
    const sweep = tinySweep('p', [0, 1, 2, 3]);
    const [a, b, c] = sweep.tasks;
    const { sweepId } = store.registerSweep(sweep, 't');
    const now = Date.now();
    const cost = a!.cost; // the four tasks differ only by seed: one cost
    store.acquireLease(sweepId, 'p', 'h', 60_000, now - 10_000);
    store.claimTask(a!.key, 'h', now - THROUGHPUT_WINDOW_MS - 1000); // started before the window
    store.completeTask(a!.key, fakeResult(), 'w', now - THROUGHPUT_WINDOW_MS + 1000);
    store.claimTask(b!.key, 'h', now - 40_000);
    store.completeTask(b!.key, fakeResult(), 'w', now - 20_000);
    store.claimTask(c!.key, 'h', now - 20_000);
    store.publishProgress('h', [{ key: c!.key, lane: 0, step: 1, totalSteps: 4, loss: 1 }], now);
    const p = storedProgress(store, sweepId, now);
    assert.equal(p.phase, 'running');
    assert.equal(p.live?.holder, 'h');
    assert.equal(p.spanMs, 40_000, 'from the first start in the window');
    // a and b finished in the window, c is a quarter trained: 2.25 costs in 40 s
    assert.ok(Math.abs(p.tasksPerMinute! - 3) < 1e-9, String(p.tasksPerMinute));
    const left = 4 * cost - 2 * cost - 0.25 * cost;
    assert.ok(Math.abs(p.etaMs! - left / ((2.25 * cost) / 40_000)) < 1e-6, String(p.etaMs));
    assert.ok(Math.abs(p.fraction - (1 - left / (4 * cost))) < 1e-12);
    store.releaseLease(sweepId, 'h');
    const stopped = storedProgress(store, sweepId, now);
    assert.equal(stopped.phase, 'stopped');
    assert.equal(stopped.etaMs, null, 'no coordinator: no ETA');
  } finally {
    store.close();
    cleanup();
  }
});
