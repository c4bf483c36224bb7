import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { fitSweep } from '../../src/analysis/fit.js';
import { BoptError } from '../../src/errors.js';
import { queryReadOnly } from '../../src/storage/query.js';
import { openReadOnly, openWritable } from '../../src/storage/open.js';
import { SweepStore } from '../../src/storage/store.js';
import { parseSweep } from '../../src/sweep/index.js';
import { columnOf, fakeResult, rowOf, rowsOf, tempDir, tinySweep, valueOf } from '../helpers/index.js';

function withStore(fn: (store: SweepStore, path: string) => void): void {
  const { dir, cleanup } = tempDir();
  const path = join(dir, 'bopt.sqlite');
  const store = SweepStore.open(path);
  try {
    fn(store, path);
  } finally {
    store.close();
    cleanup();
  }
}

test('schema is migrated, in WAL mode, with foreign keys', () => {
  withStore((store) => {
    // A second connection opened the way SweepStore.open opens its own: the settings are per connection.
    const db = openWritable(store.path);
    try {
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
      assert.equal(db.pragma('foreign_keys', { simple: true }), 1);
    } finally {
      db.close();
    }
    assert.ok((valueOf(store.path, 'PRAGMA user_version') as number) >= 1);
    const tables = columnOf(store.path, "SELECT name FROM sqlite_master WHERE type IN ('table','view') ORDER BY name");
    for (const t of [
      'sweeps',
      'tasks',
      'sweep_tasks',
      'results',
      'curves',
      'leases',
      'runs',
      'sweep_status',
      'failures',
    ]) {
      assert.ok(tables.includes(t), `missing ${t}`);
    }
  });
});

test('registering a sweep is idempotent and shares tasks between sweeps', () => {
  withStore((store) => {
    const a = store.registerSweep(tinySweep('a', [0, 1, 2]), '0.0.0');
    assert.deepEqual([a.inserted, a.total], [3, 3]);
    const again = store.registerSweep(tinySweep('a', [0, 1, 2]), '0.0.0');
    assert.equal(again.inserted, 0);
    assert.equal(again.sweepId, a.sweepId);
    // Sweep b overlaps on seeds 1 and 2: only seed 3 is new.
    const b = store.registerSweep(tinySweep('b', [1, 2, 3]), '0.0.0');
    assert.deepEqual([b.inserted, b.total], [1, 3]);
    assert.equal(valueOf(store.path, 'SELECT count(*) FROM tasks'), 4);
  });
});

test('pending tasks come most expensive first', () => {
  withStore((store) => {
    const sweep = tinySweep('c', [0]);
    const big = tinySweep('c', [1], { steps: 500 }).tasks[0]!;
    sweep.tasks.push(big);
    const { sweepId } = store.registerSweep(sweep, '0');
    assert.equal(store.pendingTasks(sweepId)[0]!.key, big.key);
  });
});

test('a result is stored once with its state change; a duplicate completion is a no-op', () => {
  withStore((store) => {
    const sweep = tinySweep('d', [0, 1]);
    const { sweepId } = store.registerSweep(sweep, '0');
    const key = sweep.tasks[0]!.key;
    assert.deepEqual(store.claimTask(key, 'h1'), { attempts: 0 });
    assert.equal(store.claimTask(key, 'h2'), null, 'a running task cannot be claimed twice');
    assert.equal(store.completeTask(key, fakeResult(), 'w'), true);
    assert.equal(store.completeTask(key, fakeResult({ testAccuracy: 0.99 }), 'w'), false);
    assert.equal(valueOf(store.path, 'SELECT count(*) FROM results'), 1);
    assert.equal(valueOf(store.path, 'SELECT test_accuracy FROM results'), 0.4);
    assert.equal(valueOf(store.path, 'SELECT count(*) FROM curves'), 2);
    assert.deepEqual(
      { ...store.counts(sweepId) },
      { ...store.counts(sweepId), done: 1, pending: 1, running: 0, failed: 0 },
    );
    const run = rowOf(store.path, "SELECT * FROM runs WHERE sweep = 'd'") as Record<string, number>;
    assert.equal(run.batch_size, 10);
    assert.ok(Math.abs(run.noise_scale! - 0.1 * (50 / 10 - 1)) < 1e-12);
  });
});

test('NaN metrics of a diverged run are stored as NULL with diverged = 1', () => {
  withStore((store) => {
    const sweep = tinySweep('e', [0]);
    store.registerSweep(sweep, '0');
    const key = sweep.tasks[0]!.key;
    store.claimTask(key, 'h');
    store.completeTask(
      key,
      fakeResult({ diverged: true, trainLoss: Number.NaN, testLoss: Number.POSITIVE_INFINITY }),
      'w',
    );
    const r = rowOf(store.path, 'SELECT diverged, train_loss, test_loss FROM results');
    assert.deepEqual(r, { diverged: 1, train_loss: null, test_loss: null });
  });
});

test('failures: retry goes back to pending, the last one marks failed with its error', () => {
  withStore((store) => {
    const sweep = tinySweep('f', [0]);
    const { sweepId } = store.registerSweep(sweep, '0');
    const key = sweep.tasks[0]!.key;
    store.claimTask(key, 'h');
    store.recordFailure(key, 'h', 'w', 'boom', false);
    assert.equal(store.pendingTasks(sweepId)[0]!.attempts, 1);
    store.claimTask(key, 'h');
    store.recordFailure(key, 'h', 'w', 'boom again', true);
    assert.equal(store.counts(sweepId).failed, 1);
    const failure = rowOf(store.path, 'SELECT attempts, last_error FROM failures');
    assert.deepEqual(failure, { attempts: 2, last_error: 'boom again' });
    assert.equal(store.resetFailed(sweepId), 1);
    assert.equal(store.pendingTasks(sweepId)[0]!.attempts, 0);
  });
});

test('leases: a live holder refuses a second coordinator; an expired one is taken over and its tasks reclaimed', () => {
  withStore((store) => {
    const sweep = tinySweep('g', [0, 1]);
    const { sweepId } = store.registerSweep(sweep, '0');
    const t0 = Date.now();
    store.acquireLease(sweepId, 'g', 'first', 10_000, t0);
    store.claimTask(sweep.tasks[0]!.key, 'first');
    assert.throws(
      () => store.acquireLease(sweepId, 'g', 'second', 10_000, t0 + 1000),
      (e: unknown) => {
        assert.ok(e instanceof BoptError);
        assert.match(e.message, /already being run by pid \d+/);
        return true;
      },
    );
    // Nothing is reclaimed while the holder is alive.
    assert.equal(store.reclaimOrphans(sweepId, t0 + 1000), 0);
    // After expiry the lease is taken over, and the orphaned running task returns to pending.
    store.acquireLease(sweepId, 'g', 'second', 10_000, t0 + 20_000);
    assert.equal(store.reclaimOrphans(sweepId, t0 + 20_000), 1);
    assert.equal(store.counts(sweepId).pending, 2);
    assert.equal(store.renewLease(sweepId, 'first', 10_000), false, 'the old holder learns it lost the lease');
    assert.equal(store.renewLease(sweepId, 'second', 10_000), true);
  });
});

test('read-only queries: SELECT works, DELETE is refused, bad SQL and a missing database are one-line errors', () => {
  withStore((store, path) => {
    const sweep = tinySweep('h', [0]);
    store.registerSweep(sweep, '0');
    const r = queryReadOnly(path, 'SELECT name FROM sweeps');
    assert.deepEqual(r, { columns: ['name'], rows: [['h']] });
    assert.throws(() => queryReadOnly(path, 'DELETE FROM tasks'), /query refused/);
    assert.throws(
      () => queryReadOnly(path, "UPDATE tasks SET state = 'done' RETURNING key"),
      /query refused: the database is opened read-only/,
    );
    assert.throws(() => queryReadOnly(path, 'SELEC nothing'), /bad SQL: near "SELEC"/);
    assert.equal(valueOf(store.path, 'SELECT count(*) FROM tasks'), 1, 'no stored data lost');
    assert.throws(() => openReadOnly(join(path, '..', 'missing.sqlite')), /database not found: .*missing\.sqlite/);
  });
});

test('a streamed grid is stored with its duplicates dropped, first occurrence kept, in batches as in one', () => {
  const text = `name: dups
fixed: {engine: reference, model: logreg, dataset: synthetic, n_train: 20, n_test: 20, lr: 0.1, steps: 2}
grid:
  batch_size: [10, 20, 10, 1e1]
repeats: 2
`;
  const sweep = parseSweep(text, 'dups.yaml');
  withStore((store, path) => {
    const order = (id: number): unknown[] => {
      const db = openReadOnly(path);
      try {
        return db
          .prepare('SELECT position, task_key FROM sweep_tasks WHERE sweep_id = ? ORDER BY position')
          .all(id)
          .map((r) => Object.values(r as object));
      } finally {
        db.close();
      }
    };
    const whole = store.registerSweep(sweep, '0');
    assert.deepEqual([whole.inserted, whole.total], [4, 4]);
    // The same grid in transactions of 3 points: the same members, at the same positions.
    const other = store.registerAndLease({ ...sweep, name: 'dups-batched', tasks: [] }, '0', 'h', 60_000);
    const tasks = sweep.stream!()[Symbol.iterator]();
    const batches: boolean[] = [];
    for (let position = 0, ended = false; !ended;) {
      const r = store.registerTasks(other.sweepId, tasks, position, 3);
      position += r.taken;
      ended = r.ended;
      batches.push(ended);
    }
    assert.equal(batches.length, 3, '8 points in 3 transactions');
    assert.deepEqual(order(other.sweepId), order(whole.sweepId));
    assert.deepEqual(
      order(whole.sweepId).map((r) => (r as unknown[])[0]),
      [0, 1, 2, 3],
      'positions of the first occurrences: (10, seed 0), (10, 1), (20, 0), (20, 1)',
    );
  });
});

test('a fit whose groups all have one B_opt is stored, its undefined rank correlation as NULL', () => {
  withStore((store) => {
    // two learning rates, both best at B = 20: Spearman of B_opt against eps is NaN (all ties)
    const rows = [0.1, 1].flatMap((lr) =>
      [10, 20, 40].map((b) => ({
        lr,
        batch_size: b,
        n_train: 100,
        momentum: 0,
        seed: 0,
        test_accuracy: b === 20 ? 0.9 : 0.5,
      })),
    );
    const fit = fitSweep(rows, { bootstrap: 0 });
    assert.ok(Number.isNaN(fit.line!.spearman));
    store.saveFit('ties', fit);
    assert.deepEqual(rowOf(store.path, "SELECT groups, spearman FROM fit_lines WHERE sweep = 'ties'"), {
      groups: 2,
      spearman: null,
    });
    assert.equal(valueOf(store.path, "SELECT count(*) FROM fit_summary WHERE sweep = 'ties'"), 2);
  });
});

test('a staged grid is stored one key range per transaction, the completion callback only with the last', () => {
  const sweep = parseSweep(
    `name: ranges
fixed: {engine: reference, model: logreg, dataset: synthetic, n_train: 20, n_test: 20, lr: 0.1, steps: 2}
grid:
  batch_size: {linear: {from: 1, to: 10, num: 10}}
repeats: 4
`,
    'ranges.yaml',
  );
  withStore((store, path) => {
    const { sweepId } = store.registerAndLease(sweep, '0', 'h', 60_000);
    const registration = store.beginRegistration(sweepId);
    try {
      assert.deepEqual(registration.stage(sweep.stream!()[Symbol.iterator](), 0, Infinity), { taken: 40, ended: true });
      let steps = 0;
      let completions = 0;
      const sizes: number[] = [];
      for (let done = false; !done; steps++) {
        assert.equal(completions, 0, 'not complete before the last range');
        const before = store.counts(sweepId).total;
        done = registration.storeNext(1, () => completions++).done;
        sizes.push(store.counts(sweepId).total - before);
      }
      assert.equal(completions, 1);
      assert.equal(store.counts(sweepId).total, 40);
      assert.ok(steps > 1 && steps <= 16, `${steps} transactions, one per non-empty key range at most`);
      assert.ok(Math.max(...sizes) < 40, 'no single transaction held the whole grid');
    } finally {
      registration.discard();
    }
    // The ranges are stored with foreign keys off; they must be consistent and the checks back on.
    assert.deepEqual(rowsOf(path, 'SELECT * FROM pragma_foreign_key_check'), []);
    assert.throws(
      () => store.completeTask('f'.repeat(64), fakeResult(), 'w'),
      /FOREIGN KEY/,
      'a result of an unknown task is still refused',
    );
  });
});

test('tasks staged in pieces of any size (many rows per statement and the rest) keep their grid positions', () => {
  const sweep = parseSweep(
    `name: pieces
fixed: {engine: reference, model: logreg, dataset: synthetic, n_train: 20, n_test: 20, lr: 0.1, steps: 2}
grid:
  batch_size: {linear: {from: 1, to: 20, num: 20}}
  l2: [0, 0.1, 0.2, 0.1]
repeats: 3
`,
    'pieces.yaml',
  );
  const grid = [...sweep.stream!()];
  assert.equal(grid.length, 240);
  withStore((store, path) => {
    const { sweepId } = store.registerAndLease(sweep, '0', 'h', 60_000);
    const registration = store.beginRegistration(sweepId);
    try {
      const tasks = sweep.stream!()[Symbol.iterator]();
      let position = 0;
      for (const max of [1, 63, 64, 65, 129, 1000]) {
        const { taken, ended } = registration.stage(tasks, position, max);
        position += taken;
        if (ended) break;
      }
      assert.equal(position, 240);
      registration.storeAll();
    } finally {
      registration.discard();
    }
    const rows = rowsOf(
      path,
      'SELECT task_key AS key, position, cost FROM sweep_tasks WHERE sweep_id = ? ORDER BY position',
      sweepId,
    ) as Array<{ key: string; position: number; cost: number }>;
    // l2 0.1 twice: its second column is a duplicate of the first, kept at its first position.
    const first = new Map<string, number>();
    grid.forEach((t, i) => first.has(t.key) || first.set(t.key, i));
    assert.equal(rows.length, first.size);
    assert.equal(rows.length, 180);
    for (const r of rows) assert.equal(r.position, first.get(r.key), `task ${r.key}`);
    const byKey = new Map(grid.map((t) => [t.key, t]));
    for (const r of rows) assert.equal(r.cost, byKey.get(r.key)!.cost);
    const stored = rowsOf(path, 'SELECT key, params FROM tasks') as Array<{ key: string; params: string }>;
    assert.equal(stored.length, 180);
    for (const t of stored) assert.equal(t.params, byKey.get(t.key)!.paramsJson);
  });
});
