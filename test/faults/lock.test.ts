/**
 * A write lock held by another connection (simulated by a second better-sqlite3 connection in
 * BEGIN IMMEDIATE) and a full disk (an injected SQLITE_FULL) must never drop a finished result or
 * count it as a failed attempt.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import type { JobOutcome, RunJobOptions, TaskRunner, TrainJob } from '../../src/pool/protocol.js';
import { Coordinator } from '../../src/scheduler/coordinator.js';
import type { SweepEvent } from '../../src/scheduler/events.js';
import { SweepStore } from '../../src/storage/store.js';
import { StoreUnwritableError } from '../../src/errors.js';
import { fakeResult, tempDir, tinySweep } from '../helpers/fixtures.js';

class SlowRunner implements TaskRunner {
  readonly description = 'slow';
  runs = 0;
  constructor(
    readonly slots: number,
    private readonly delayMs: number,
  ) {}
  async run(job: TrainJob, options: RunJobOptions): Promise<JobOutcome> {
    this.runs++;
    await sleep(this.delayMs, undefined, { signal: options.signal });
    return { result: fakeResult({ trainLoss: job.params.seed }), worker: 'slow' };
  }
  async close(): Promise<void> {}
}

function holdWriteLock(path: string): { release: () => void } {
  const other = new Database(path);
  other.exec('BEGIN IMMEDIATE');
  return {
    release: () => {
      other.exec('COMMIT');
      other.close();
    },
  };
}

const taskStates = (path: string): Array<{ state: string; attempts: number }> => {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare('SELECT state, attempts FROM tasks').all() as Array<{ state: string; attempts: number }>;
  } finally {
    db.close();
  }
};

test('a write lock held elsewhere for a while: results wait and are stored, no attempt is counted', async () => {
  const { dir, cleanup } = tempDir();
  const path = join(dir, 'db.sqlite');
  const store = SweepStore.open(path, { busyTimeoutMs: 50 });
  try {
    const sweep = tinySweep('locked', [0, 1, 2, 3]);
    const events: SweepEvent[] = [];
    const c = new Coordinator({ store, sweep, runner: new SlowRunner(2, 150), codeVersion: 't', storeRetryMs: 20_000 });
    c.onEvent((e) => events.push(e));
    const running = c.run();
    await sleep(60); // registered, the first two tasks are training
    const lock = holdWriteLock(path);
    await sleep(1200); // well past the busy timeout: every result of this window must wait
    lock.release();
    const summary = await running;
    assert.deepEqual(summary.counts, { pending: 0, running: 0, done: 4, failed: 0 });
    assert.ok(events.some((e) => e.type === 'store-blocked' && /locked by another connection/.test(e.problem)));
    assert.ok(!events.some((e) => e.type === 'task-retry' || e.type === 'task-failed'));
    assert.deepEqual(
      taskStates(path).map((t) => t.attempts),
      [0, 0, 0, 0],
    );
  } finally {
    store.close();
    cleanup();
  }
});

test('a database that stays locked: one error, exit code 4, and every task is recoverable on resume', async () => {
  const { dir, cleanup } = tempDir();
  const path = join(dir, 'db.sqlite');
  const store = SweepStore.open(path, { busyTimeoutMs: 50 });
  try {
    const sweep = tinySweep('stuck', [0, 1, 2]);
    const c = new Coordinator({
      store,
      sweep,
      runner: new SlowRunner(2, 100),
      codeVersion: 't',
      storeRetryMs: 600,
      leaseTtlMs: 300, // this process stays alive: its lease must expire for the resume below
    });
    const running = c.run();
    await sleep(40);
    const lock = holdWriteLock(path);
    await assert.rejects(running, (e: unknown) => {
      assert.ok(e instanceof StoreUnwritableError);
      assert.equal(e.sweep, 'stuck');
      assert.doesNotMatch(e.message, /\n/);
      assert.match(e.message, new RegExp(`${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is locked`));
      return true;
    });
    lock.release();
    store.close();
    await sleep(400);
    // Resume: the stopped coordinator's tasks are reclaimed and trained exactly once.
    const again = SweepStore.open(path);
    const summary = await new Coordinator({
      store: again,
      sweep,
      runner: new SlowRunner(2, 1),
      codeVersion: 't',
    }).run();
    again.close();
    assert.deepEqual(summary.counts, { pending: 0, running: 0, done: 3, failed: 0 });
    assert.deepEqual(
      taskStates(path).map((t) => t.attempts),
      [0, 0, 0],
    );
  } finally {
    store.close();
    cleanup();
  }
});

test('a full disk while a result is written: it is retried and stored, not a failed attempt', async () => {
  const { dir, cleanup } = tempDir();
  const path = join(dir, 'db.sqlite');
  const store = SweepStore.open(path);
  try {
    let failures = 3;
    const complete = store.completeTask.bind(store);
    store.completeTask = (...args: Parameters<SweepStore['completeTask']>) => {
      if (failures-- > 0) throw new Database.SqliteError('database or disk is full', 'SQLITE_FULL');
      return complete(...args);
    };
    const events: SweepEvent[] = [];
    const sweep = tinySweep('full', [0, 1]);
    const c = new Coordinator({ store, sweep, runner: new SlowRunner(1, 1), codeVersion: 't' });
    c.onEvent((e) => events.push(e));
    const summary = await c.run();
    assert.deepEqual(summary.counts, { pending: 0, running: 0, done: 2, failed: 0 });
    assert.ok(events.some((e) => e.type === 'store-blocked' && /full disk/.test(e.problem)));
    assert.deepEqual(
      taskStates(path).map((t) => t.attempts),
      [0, 0],
    );
  } finally {
    store.close();
    cleanup();
  }
});
