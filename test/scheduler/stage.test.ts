import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { stageSweep, type StageOptions } from '../../src/scheduler/stage.js';
import { SweepStore } from '../../src/storage/store.js';
import { parseSweep } from '../../src/sweep/index.js';
import { rowsOf, tempDir } from '../helpers/index.js';

// 3 x 4 x 250 = 3,000 points; l2 0.1 twice, so a quarter of them repeat an earlier key.
const GRID = `name: staged
fixed: {engine: reference, model: logreg, dataset: synthetic, n_train: 20, n_test: 20, steps: 2}
grid:
  batch_size: [1, 2, 5]
  l2: [0, 0.1, 0.2, 0.1]
  lr: {linear: {from: 0.001, to: 1, num: 250}}
`;

/** The rows a registration leaves, every column but the time of the insert. */
function stored(path: string): unknown[][] {
  return [
    rowsOf(path, 'SELECT key, params, engine, engine_version, cost, state, attempts FROM tasks ORDER BY key'),
    rowsOf(path, 'SELECT * FROM sweep_tasks ORDER BY sweep_id, position'),
    rowsOf(path, 'SELECT id, name, registered IS NOT NULL AS registered FROM sweeps'),
  ];
}

/** Register GRID with stageSweep as the coordinator does; returns what was stored and whether it completed. */
async function register(options: Partial<StageOptions>): Promise<{ rows: unknown[][]; staged: boolean }> {
  const { dir, cleanup } = tempDir();
  const path = join(dir, 'bopt.sqlite');
  const store = SweepStore.open(path);
  try {
    const sweep = parseSweep(GRID, 'staged.yaml');
    const { sweepId } = store.registerAndLease(sweep, '0', 'h', 60_000);
    const registration = store.beginRegistration(sweepId);
    let staged: boolean;
    try {
      staged = await stageSweep(registration, sweep, { batch: 1_000, between: async () => true, ...options });
      if (staged) while (!registration.storeNext(1_000, () => store.markRegistered(sweepId, 'g')).done);
    } finally {
      registration.discard();
    }
    return { rows: stored(path), staged };
  } finally {
    store.close();
    cleanup();
  }
}

test('a grid expanded by the worker thread is stored exactly as one expanded in-thread', async () => {
  const worker = parseSweep(GRID, 'staged.yaml').batches?.();
  assert.ok(worker, 'a grid read from a text can be expanded in a worker');
  await worker.close();
  const inThread = await register({ workerMin: Infinity });
  const [tasks, members] = inThread.rows as [unknown[], unknown[]];
  assert.equal(members.length, 2_250, 'the first occurrence of each key');
  assert.equal(tasks.length, 2_250);
  // Batches of 97 (not a multiple of the rows per staging statement) and of the whole grid; the
  // worker starting at point 333, 0 and a quarter of the grid (the default head, at most).
  for (const [workerBatch, workerHead] of [
    [97, 333],
    [5_000, 0],
    [1_000, undefined],
  ] as const) {
    const inWorker = await register({ workerMin: 0, workerBatch, ...(workerHead !== undefined ? { workerHead } : {}) });
    assert.equal(inWorker.staged, true);
    assert.deepEqual(
      inWorker.rows,
      inThread.rows,
      `batches of ${workerBatch} from ${workerHead ?? 'the default head'}: the same keys, params, positions, members`,
    );
  }
});

test('staging stopped between batches of the worker stores nothing and ends the worker', async () => {
  let calls = 0;
  const stoppedByBetween = await register({
    workerMin: 0,
    workerBatch: 100,
    between: async () => ++calls < 2,
  });
  assert.equal(stoppedByBetween.staged, false);
  assert.equal(calls, 2, 'asked after every 1,000 tasks staged');
  assert.deepEqual(stoppedByBetween.rows, [[], [], [{ id: 1, name: 'staged', registered: 0 }]]);
  let checks = 0;
  const stopped = await register({ workerMin: 0, workerBatch: 100, stopped: () => ++checks === 3 });
  assert.equal(stopped.staged, false);
  assert.deepEqual(stopped.rows, [[], [], [{ id: 1, name: 'staged', registered: 0 }]]);
});
