import assert from 'node:assert/strict';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import type { JobOutcome, RunJobOptions, TaskRunner, TrainJob } from '../../src/pool/protocol.js';
import { Coordinator } from '../../src/scheduler/coordinator.js';
import type { SweepEvent } from '../../src/scheduler/events.js';
import { SweepStore } from '../../src/storage/store.js';
import { parseSweep } from '../../src/sweep/index.js';
import { fakeResult, rowOf, tempDir, tinySweep, valueOf } from '../helpers/index.js';

/** A runner that trains nothing: it answers after `delayMs`, failing the seeds it is told to. */
class FakeRunner implements TaskRunner {
  readonly description = 'fake';
  readonly started: TrainJob[] = [];
  constructor(
    readonly slots: number,
    private readonly behaviour: { delayMs?: number; failSeeds?: Map<number, number> } = {},
  ) {}
  async run(job: TrainJob, options: RunJobOptions): Promise<JobOutcome> {
    this.started.push(job);
    options.onProgress({ key: job.key, step: 1, totalSteps: job.params.steps, loss: 1 });
    await sleep(this.behaviour.delayMs ?? 1, undefined, { signal: options.signal });
    const failUntil = this.behaviour.failSeeds?.get(job.params.seed) ?? 0;
    if (job.attempt < failUntil) throw new Error(`planned failure\nof seed ${job.params.seed}`);
    return { result: fakeResult(), worker: 'fake' };
  }
  async close(): Promise<void> {}
}

function setup(): { store: SweepStore; cleanup: () => void } {
  const { dir, cleanup } = tempDir();
  const store = SweepStore.open(join(dir, 'db.sqlite'));
  return { store, cleanup: () => (store.close(), cleanup()) };
}

test('runs every task once, longest first, and emits a consistent event stream', async () => {
  const { store, cleanup } = setup();
  try {
    const sweep = tinySweep('s', [0, 1, 2, 3, 4]);
    sweep.tasks[3] = tinySweep('s', [3], { steps: 1000 }).tasks[0]!;
    const runner = new FakeRunner(2);
    const c = new Coordinator({ store, sweep, runner, codeVersion: 't' });
    const events: SweepEvent[] = [];
    c.onEvent((e) => events.push(e));
    const summary = await c.run();
    assert.equal(summary.trained, 5);
    assert.deepEqual(summary.counts, { pending: 0, running: 0, done: 5, failed: 0 });
    assert.equal(runner.started[0]!.params.steps, 1000, 'the most expensive task starts first');
    assert.equal(events[0]!.type, 'sweep-start');
    assert.equal(events.at(-1)!.type, 'sweep-end');
    assert.equal(events.filter((e) => e.type === 'task-done').length, 5);
    const lanes = new Set(events.flatMap((e) => (e.type === 'task-start' ? [e.lane] : [])));
    assert.deepEqual([...lanes].sort(), [0, 1]);
    // Running it again trains nothing.
    const again = await new Coordinator({ store, sweep, runner: new FakeRunner(2), codeVersion: 't' }).run();
    assert.equal(again.trained, 0);
  } finally {
    cleanup();
  }
});

test('a failing task is retried, then marked failed with its one-line error; the sweep continues', async () => {
  const { store, cleanup } = setup();
  try {
    const sweep = tinySweep('r', [0, 1, 2]);
    // seed 1 fails once then succeeds; seed 2 always fails.
    const runner = new FakeRunner(2, {
      failSeeds: new Map([
        [1, 1],
        [2, 99],
      ]),
    });
    const events: SweepEvent[] = [];
    const c = new Coordinator({ store, sweep, runner, codeVersion: 't', retries: 2 });
    c.onEvent((e) => events.push(e));
    const summary = await c.run();
    assert.deepEqual(summary.counts, { pending: 0, running: 0, done: 2, failed: 1 });
    assert.equal(runner.started.filter((j) => j.params.seed === 2).length, 3, '1 attempt + 2 retries');
    const failed = events.find((e) => e.type === 'task-failed');
    assert.ok(failed && failed.type === 'task-failed');
    assert.equal(failed.error, 'planned failure of seed 2');
    const row = rowOf(store.path, 'SELECT attempts, last_error FROM failures');
    assert.deepEqual(row, { attempts: 3, last_error: 'planned failure of seed 2' });
    // --retry-failed reruns only the failed task.
    const rerun = new FakeRunner(2);
    const s2 = await new Coordinator({ store, sweep, runner: rerun, codeVersion: 't', retryFailed: true }).run();
    assert.equal(rerun.started.length, 1);
    assert.equal(rerun.started[0]!.params.seed, 2);
    assert.equal(s2.counts.done, 3);
  } finally {
    cleanup();
  }
});

test('interrupt stops dispatch, returns running tasks to pending, and stores no partial rows', async () => {
  const { store, cleanup } = setup();
  try {
    const sweep = tinySweep('i', [0, 1, 2, 3, 4, 5, 6, 7]);
    const runner = new FakeRunner(2, { delayMs: 50 });
    const c = new Coordinator({ store, sweep, runner, codeVersion: 't' });
    let done = 0;
    c.onEvent((e) => {
      if (e.type === 'task-done' && ++done === 2) c.interrupt();
    });
    const summary = await c.run();
    assert.equal(summary.interrupted, true);
    assert.equal(summary.counts.running, 0);
    assert.equal(summary.counts.done + summary.counts.pending, 8);
    assert.equal(valueOf(store.path, 'SELECT count(*) FROM results'), summary.counts.done);
    assert.equal(valueOf(store.path, 'SELECT count(*) FROM leases'), 0, 'lease released');
    assert.equal(
      valueOf(store.path, 'SELECT count(*) FROM tasks WHERE attempts > 0'),
      0,
      'an interrupt is not a failed attempt',
    );
  } finally {
    cleanup();
  }
});

test('a second coordinator on a live sweep is refused with a clear message', async () => {
  const { store, cleanup } = setup();
  try {
    const sweep = tinySweep('l', [0, 1, 2, 3]);
    const first = new Coordinator({ store, sweep, runner: new FakeRunner(1, { delayMs: 30 }), codeVersion: 't' });
    const running = first.run();
    await sleep(10);
    const second = new Coordinator({ store, sweep, runner: new FakeRunner(1), codeVersion: 't' });
    await assert.rejects(second.run(), /sweep "l" is already being run by pid/);
    const summary = await running;
    assert.equal(summary.counts.done, 4);
  } finally {
    cleanup();
  }
});

test('pending tasks are read page by page: a grid much larger than the window runs in dispatch order, never held whole', async () => {
  const { store, cleanup } = setup();
  try {
    // 3,000 tasks: 10 costs (batch sizes) with 300 ties each, registered in 7 transactions of 500.
    const sweep = parseSweep(
      `name: paged
fixed: {engine: reference, model: logreg, dataset: synthetic, n_train: 20, n_test: 20, lr: 0.1, steps: 2}
grid:
  batch_size: {linear: {from: 1, to: 10, num: 10}}
repeats: 300
`,
      'paged.yaml',
    );
    const windowSize = 16;
    const runner = new FakeRunner(2, { delayMs: 0 });
    const c = new Coordinator({
      store,
      sweep,
      runner,
      codeVersion: 't',
      pendingWindow: windowSize,
      registerBatch: 500,
    });
    let read = 0;
    let started = 0;
    let mostHeld = 0;
    let largestPage = 0;
    const pendingPage = store.pendingPage.bind(store);
    store.pendingPage = (...args) => {
      const page = pendingPage(...args);
      read += page.tasks.length;
      largestPage = Math.max(largestPage, page.tasks.length, args[2]);
      mostHeld = Math.max(mostHeld, read - started);
      return page;
    };
    c.onEvent((e) => {
      if (e.type === 'task-start') started++;
    });
    const summary = await c.run();
    assert.deepEqual(summary.counts, { pending: 0, running: 0, done: 3000, failed: 0 });
    assert.equal(new Set(runner.started.map((j) => j.key)).size, 3000, 'every task trained once');
    assert.equal(largestPage, windowSize);
    assert.ok(mostHeld <= windowSize + runner.slots, `held ${mostHeld} tasks read but not started`);
    // Dispatch order: most expensive first, then grid order (seeds in order within one batch size).
    const expected = [...sweep.tasks].sort((a, b) => b.cost - a.cost).map((t) => t.key);
    assert.deepEqual(
      runner.started.map((j) => j.key),
      expected,
    );
  } finally {
    cleanup();
  }
});

test('a grid stored completely is not expanded and stored again on the next run; a changed one is', async () => {
  const { store, cleanup } = setup();
  try {
    const yaml = (seeds: number): string => `name: marked
fixed: {engine: reference, model: logreg, dataset: synthetic, n_train: 20, n_test: 20, lr: 0.1, steps: 2}
grid:
  batch_size: {linear: {from: 1, to: 10, num: 10}}
repeats: ${seeds}
`;
    let registrations = 0;
    const begin = store.beginRegistration.bind(store);
    store.beginRegistration = (...args) => (registrations++, begin(...args));
    // Stored in ranges of at most 5 tasks: several write transactions, the marker with the last.
    const run = (seeds: number) =>
      new Coordinator({
        store,
        sweep: parseSweep(yaml(seeds), 'marked.yaml'),
        runner: new FakeRunner(2, { delayMs: 0 }),
        codeVersion: 't',
        registerBatch: 5,
      }).run();
    assert.equal((await run(3)).counts.done, 30);
    assert.equal(registrations, 1);
    const again = await run(3);
    assert.deepEqual([again.trained, again.total, registrations], [0, 30, 1], 'unchanged grid: not registered again');
    const more = await run(4);
    assert.deepEqual(
      [more.trained, more.total, registrations],
      [10, 40, 2],
      'a seed added: registered, only it trained',
    );
  } finally {
    cleanup();
  }
});

/** A runner whose jobs end when the test says; it shares cores, so large native MLP tasks get threads. */
class HeldRunner implements TaskRunner {
  readonly description = 'held';
  readonly sharesCores = true;
  readonly jobs = new Map<number, { threads: Int32Array | undefined; finish: () => void }>();
  constructor(readonly slots: number) {}
  async run(job: TrainJob, options: RunJobOptions): Promise<JobOutcome> {
    await new Promise<void>((resolve) => this.jobs.set(job.params.seed, { threads: options.threads, finish: resolve }));
    return { result: fakeResult(), worker: 'held' };
  }
  threadsOf(seed: number): number | undefined {
    const cell = this.jobs.get(seed)?.threads;
    return cell ? Atomics.load(cell, 0) : undefined;
  }
  async close(): Promise<void> {}
}

async function until(what: string, ok: () => boolean): Promise<void> {
  for (let i = 0; i < 2000 && !ok(); i++) await sleep(2);
  assert.ok(ok(), `timed out waiting until ${what}`);
}

test('idle slots are lent as threads to a running large-batch task and taken back for queued work', async () => {
  const { store, cleanup } = setup();
  try {
    const large = { engine: 'native', model: 'mlp', hidden: 800, n_train: 1000, batch_size: 500 } as const;
    const sweep = tinySweep('t', [0], { ...large, steps: 1000 });
    sweep.tasks.push(tinySweep('t', [1], { ...large, batch_size: 10 }).tasks[0]!); // too small to split
    const runner = new HeldRunner(2);
    const c = new Coordinator({ store, sweep, runner, codeVersion: 't', idleCores: () => 2 });
    const threadEvents: number[] = [];
    c.onEvent((e) => {
      if (e.type === 'task-threads') threadEvents.push(e.threads);
    });
    const run = c.run();
    await until('both tasks run', () => runner.jobs.size === 2);
    assert.equal(runner.threadsOf(0), 1, 'no slot idles while both run');
    assert.equal(runner.threadsOf(1), undefined, 'a small batch gets no thread count to change');

    runner.jobs.get(1)!.finish();
    await until('the freed slot is lent', () => runner.threadsOf(0) === 2);

    // A task joins (a search's next round): the lent slot goes back to it and it starts.
    c.extend(tinySweep('t', [2], { ...large, steps: 5 }).tasks);
    await until('the new task starts', () => runner.jobs.has(2));
    assert.equal(runner.threadsOf(0), 1);
    assert.equal(runner.threadsOf(2), 1);

    runner.jobs.get(2)!.finish();
    await until('the slot is lent again', () => runner.threadsOf(0) === 2);
    runner.jobs.get(0)!.finish();
    const summary = await run;
    assert.equal(summary.trained, 3);
    assert.deepEqual(threadEvents, [2, 1, 2]);
  } finally {
    cleanup();
  }
});

test('nothing is lent while other programs keep the cores busy', async () => {
  const { store, cleanup } = setup();
  try {
    const large = { engine: 'native', model: 'mlp', hidden: 800, n_train: 1000, batch_size: 500 } as const;
    const sweep = tinySweep('b', [0], large);
    const runner = new HeldRunner(2);
    const c = new Coordinator({ store, sweep, runner, codeVersion: 't', idleCores: () => 0.3 });
    const run = c.run();
    await until('the task runs', () => runner.jobs.size === 1);
    await sleep(2_500); // past a heartbeat, which samples the idle cores again
    assert.equal(runner.threadsOf(0), 1, 'a slot of the pool idles, but no core of the machine does');
    runner.jobs.get(0)!.finish();
    assert.equal((await run).trained, 1);
  } finally {
    cleanup();
  }
});
