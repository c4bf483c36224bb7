/**
 * Queue mode end to end: a real redis-server (127.0.0.1, random port, temporary folder) and real
 * `bopt worker` processes (the compiled CLI). Each test uses its own queue name and database.
 * Workers run with --stall-ms 1000 so a killed worker's job is handed on in about two seconds.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { Queue, type Job } from 'bullmq';
import { Coordinator } from '../../src/scheduler/coordinator.js';
import type { SweepEvent } from '../../src/scheduler/events.js';
import { SweepStore } from '../../src/storage/store.js';
import { BullmqRunner, storedResultCheck } from '../../src/queue/bullmq-runner.js';
import { bullmqOptions, parseQueueUrl } from '../../src/queue/connection.js';
import { boptVersion } from '../../src/version.js';
import {
  boptAsync,
  columnOf,
  countOf,
  exited,
  killableSweepYaml,
  rowsOf,
  tempDir,
  tinySweep,
  valueOf,
  waitForCount,
  writeSweep,
} from '../helpers/index.js';
import { redisAvailable, startRedis, type TestRedis } from '../helpers/redis.js';

const skip =
  redisAvailable() || process.env.CI ? false : 'redis-server is not installed (apt-get install -y redis-server)';

type Child = ReturnType<typeof boptAsync>;

/** MLP tasks of 0.1–0.7 s: long enough for a kill to land mid-task. */
const MLP = { model: 'mlp', hidden: 32, n_train: 200, n_test: 200, steps: 150 } as const;
const SWEEP = (name: string) => killableSweepYaml(name);
const GRID = 12;

describe('queue mode (BullMQ on a real Redis)', { skip, timeout: 110_000 }, () => {
  let redis: TestRedis;
  let dir: string;
  let cleanup: () => void;
  const children: Child[] = [];
  const queues: Queue[] = [];

  before(async () => {
    ({ dir, cleanup } = tempDir('bopt-queue-'));
    redis = await startRedis();
  });
  after(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await Promise.all(children.map((c) => exited(c)));
    await Promise.all(queues.map((q) => q.close()));
    await redis?.stop();
    cleanup?.();
  });

  /** A `bopt worker` process, resolved once it listens. */
  async function startWorker(queueName: string, threads = 1): Promise<Child> {
    const child = boptAsync([
      'worker',
      '--queue',
      redis.url,
      '--queue-name',
      queueName,
      '--workers',
      String(threads),
      '--stall-ms',
      '1000',
    ]);
    children.push(child);
    const deadline = Date.now() + 20_000;
    while (!/waiting for jobs/.test(child.output().stderr)) {
      if (child.exitCode !== null || Date.now() > deadline)
        throw new Error(`worker did not start: ${child.output().stderr}`);
      await sleep(20);
    }
    return child;
  }

  /** A Queue handle on the test Redis, for looking at what is left in it. */
  function inspect(queueName: string): Queue {
    const q = new Queue(queueName, bullmqOptions(parseQueueUrl(redis.url)));
    queues.push(q);
    return q;
  }

  const leftInRedis = async (q: Queue): Promise<number> => {
    const c = await q.getJobCounts('waiting', 'active', 'completed', 'failed', 'delayed', 'prioritized');
    return Object.values(c).reduce((a, b) => a + b, 0);
  };

  function assertStoredOnce(db: string, total: number): void {
    assert.equal(countOf(db, "SELECT count(*) FROM tasks WHERE state = 'done'"), total);
    assert.equal(countOf(db, 'SELECT count(*) FROM results'), total);
    assert.equal(countOf(db, 'SELECT count(DISTINCT task_key) FROM results'), total);
    assert.equal(
      countOf(db, 'SELECT count(*) FROM (SELECT task_key, step FROM curves GROUP BY 1, 2 HAVING count(*) > 1)'),
      0,
    );
  }

  async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(25);
    }
  }

  test('a coordinator and two worker processes complete a sweep, every task stored exactly once', async () => {
    const name = 'two-workers';
    const [a, b] = await Promise.all([startWorker(name), startWorker(name)]);
    const store = SweepStore.open(join(dir, `${name}.sqlite`));
    const runner = await BullmqRunner.connect({
      url: redis.url,
      queueName: name,
      isStored: storedResultCheck(store),
      pollMs: 500,
    });
    try {
      const sweep = tinySweep(name, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], MLP);
      // One longer task (about a second), so that step progress (every 500 ms on the workers) shows.
      sweep.tasks.push(tinySweep(name, [10], { ...MLP, steps: 1500 }).tasks[0]!);
      const events: SweepEvent[] = [];
      const c = new Coordinator({ store, sweep, runner, codeVersion: boptVersion() });
      c.onEvent((e) => events.push(e));
      const summary = await c.run();
      assert.deepEqual(summary.counts, { pending: 0, running: 0, done: 11, failed: 0 });
      assertStoredOnce(store.path, 11);
      const workers = columnOf(store.path, 'SELECT DISTINCT worker FROM results') as string[];
      for (const child of [a, b])
        assert.ok(
          workers.some((w) => w.includes(`:${child.pid}/`)),
          `worker ${child.pid} trained some: ${workers}`,
        );
      assert.ok(
        events.some((e) => e.type === 'task-progress'),
        'progress came back through Redis',
      );
      await until('completed jobs removed', async () => (await leftInRedis(inspect(name))) === 0, 5_000);
    } finally {
      await runner.close();
      store.close();
      a.kill('SIGTERM');
      b.kill('SIGTERM');
      assert.deepEqual(await exited(a), { code: 0, signal: null });
      await exited(b);
    }
  });

  test('SIGKILL of a worker mid-task: its job goes to the other worker, every task stored once, no attempt counted', async () => {
    const name = 'kill-worker';
    const victim = await startWorker(name);
    const store = SweepStore.open(join(dir, `${name}.sqlite`));
    const runner = await BullmqRunner.connect({
      url: redis.url,
      queueName: name,
      isStored: storedResultCheck(store),
      pollMs: 500,
    });
    const q = inspect(name);
    let survivor: Child | undefined;
    try {
      const sweep = tinySweep(name, [0, 1, 2, 3, 4, 5, 6, 7], MLP);
      const running = new Coordinator({ store, sweep, runner, codeVersion: boptVersion() }).run();
      // Let the victim finish one task and hold the next one.
      let held: Job | undefined;
      await until('the victim to hold a job', async () => {
        if (countOf(store.path, 'SELECT count(*) FROM results') < 1) return false;
        held = (await q.getActive()).find((j) => j.processedBy?.endsWith(`:${victim.pid}`));
        return held !== undefined;
      });
      victim.kill('SIGKILL');
      await exited(victim);
      survivor = await startWorker(name);
      const summary = await running;
      assert.deepEqual(summary.counts, { pending: 0, running: 0, done: 8, failed: 0 });
      assertStoredOnce(store.path, 8);
      const by = valueOf(store.path, 'SELECT worker FROM results WHERE task_key = ?', held!.id!) as string;
      assert.ok(by.includes(`:${survivor.pid}/`), `the held job was trained again by the survivor (got ${by})`);
      assert.equal(
        countOf(store.path, 'SELECT count(*) FROM tasks WHERE attempts > 0'),
        0,
        'a stalled job is not a failed attempt',
      );
    } finally {
      await runner.close();
      store.close();
      survivor?.kill('SIGTERM');
      if (survivor) await exited(survivor);
    }
  });

  test('SIGTERM of a worker mid-task hands its job back at once (no stall wait, no attempt counted)', async () => {
    const name = 'term-worker';
    const leaving = await startWorker(name);
    const store = SweepStore.open(join(dir, `${name}.sqlite`));
    const runner = await BullmqRunner.connect({
      url: redis.url,
      queueName: name,
      isStored: storedResultCheck(store),
      pollMs: 500,
    });
    const q = inspect(name);
    let staying: Child | undefined;
    try {
      const sweep = tinySweep(name, [0, 1], { ...MLP, steps: 1500 });
      const running = new Coordinator({ store, sweep, runner, codeVersion: boptVersion() }).run();
      await until('the worker to hold a job', async () => (await q.getActiveCount()) > 0);
      const t0 = Date.now();
      leaving.kill('SIGTERM');
      assert.deepEqual(await exited(leaving), { code: 0, signal: null });
      assert.match(leaving.output().stderr, /handed back 1/);
      assert.equal(await q.getActiveCount(), 0, 'nothing left holding a lock');
      assert.equal(await q.getWaitingCount(), 2, 'both jobs waiting again');
      assert.ok(Date.now() - t0 < 5_000, 'stopped without waiting for the task');
      staying = await startWorker(name);
      const summary = await running;
      assert.deepEqual(summary.counts, { pending: 0, running: 0, done: 2, failed: 0 });
      assertStoredOnce(store.path, 2);
      assert.equal(countOf(store.path, 'SELECT count(*) FROM tasks WHERE attempts > 0'), 0);
    } finally {
      await runner.close();
      store.close();
      staying?.kill('SIGTERM');
      if (staying) await exited(staying);
    }
  });

  test('SIGKILL of the coordinator: jobs finished meanwhile wait in Redis and are collected on resume, not retrained', async () => {
    const name = 'kill-coordinator';
    const db = join(dir, `${name}.sqlite`);
    const file = writeSweep(dir, name, SWEEP(name));
    const workers = await Promise.all([startWorker(name), startWorker(name)]);
    const q = inspect(name);
    const coordinator = boptAsync(['run', file, '--db', db, '--queue', redis.url, '--queue-name', name, '--no-ui']);
    children.push(coordinator);
    await waitForCount(db, 'SELECT count(*) FROM results', 2);
    coordinator.kill('SIGKILL');
    assert.equal((await exited(coordinator)).signal, 'SIGKILL');
    const storedBefore = countOf(db, 'SELECT count(*) FROM results');
    assert.ok(storedBefore < GRID, 'killed before the end');
    // The workers carry on with what was queued; then they are stopped, so only Redis can finish the sweep.
    await until('the workers to drain the queue', async () => {
      const c = await q.getJobCounts('waiting', 'active');
      return c.waiting + c.active === 0;
    });
    for (const w of workers) w.kill('SIGTERM');
    for (const w of workers) assert.equal((await exited(w)).code, 0);
    const completed = await q.getCompleted(0, -1);
    assert.ok(completed.length >= 1, 'some jobs completed while the coordinator was dead');
    const resumed = boptAsync(['resume', name, '--db', db, '--queue', redis.url, '--queue-name', name, '--no-ui']);
    children.push(resumed);
    assert.equal((await exited(resumed)).code, 0, resumed.output().stderr);
    assertStoredOnce(db, GRID);
    const workerOf = (key: string) =>
      countOf(
        db,
        `SELECT count(*) FROM results WHERE task_key = '${key}' AND worker = '${(completed.find((j) => j.id === key)!.returnvalue as { worker: string }).worker}'`,
      );
    for (const j of completed) assert.equal(workerOf(j.id!), 1, `result of ${j.id} collected from Redis`);
    assert.equal(countOf(db, 'SELECT count(*) FROM tasks WHERE attempts > 0'), 0);
    assert.equal(await leftInRedis(q), 0, 'nothing left in Redis once stored');
  });

  test('Ctrl-C on the coordinator: waiting jobs are withdrawn, the running one finishes, resume completes the sweep', async () => {
    const name = 'interrupt';
    const db = join(dir, `${name}.sqlite`);
    const file = writeSweep(dir, name, SWEEP(name));
    const worker = await startWorker(name);
    const q = inspect(name);
    const coordinator = boptAsync(['run', file, '--db', db, '--queue', redis.url, '--queue-name', name, '--no-ui']);
    children.push(coordinator);
    await waitForCount(db, 'SELECT count(*) FROM results', 2);
    coordinator.kill('SIGINT');
    assert.equal((await exited(coordinator)).code, 130, coordinator.output().stderr);
    assert.equal(countOf(db, "SELECT count(*) FROM tasks WHERE state = 'running'"), 0);
    assert.equal(countOf(db, 'SELECT count(*) FROM tasks WHERE attempts > 0'), 0, 'an interrupt is not a failure');
    const counts = await q.getJobCounts('waiting', 'active', 'completed', 'failed');
    assert.equal(counts.waiting, 0, 'queued jobs withdrawn');
    assert.equal(counts.failed, 0);
    // The one-thread worker held one job at the interrupt (two if it had just finished one and taken the next).
    assert.ok(
      counts.active + counts.completed <= 2,
      `only the job(s) running at the interrupt are left: ${JSON.stringify(counts)}`,
    );
    const resumed = boptAsync(['resume', name, '--db', db, '--queue', redis.url, '--queue-name', name, '--no-ui']);
    children.push(resumed);
    assert.equal((await exited(resumed)).code, 0, resumed.output().stderr);
    assertStoredOnce(db, GRID);
    assert.equal(await leftInRedis(q), 0);
    worker.kill('SIGTERM');
    await exited(worker);
  });

  test('a worker of another version refuses the jobs; the tasks fail with a message naming both versions', async () => {
    const name = 'versions';
    const worker = await startWorker(name);
    const store = SweepStore.open(join(dir, `${name}.sqlite`));
    const runner = await BullmqRunner.connect({
      url: redis.url,
      queueName: name,
      isStored: storedResultCheck(store),
      boptVersion: '0.0.0-other',
    });
    try {
      const sweep = tinySweep(name, [0, 1, 2]);
      const summary = await new Coordinator({ store, sweep, runner, codeVersion: '0.0.0-other', retries: 1 }).run();
      assert.deepEqual(summary.counts, { pending: 0, running: 0, done: 0, failed: 3 });
      const rows = rowsOf(store.path, 'SELECT attempts, last_error FROM tasks') as {
        attempts: number;
        last_error: string;
      }[];
      const mine = boptVersion().replace(/\./g, '\\.');
      for (const r of rows) {
        assert.equal(r.attempts, 2, 'the coordinator counted and retried');
        assert.match(
          r.last_error,
          new RegExp(
            `^version mismatch: the coordinator runs bopt 0\\.0\\.0-other with engine reference reference-1, worker \\S+:${worker.pid} runs bopt ${mine} with engine reference reference-1`,
          ),
        );
      }
      assert.equal(await leftInRedis(inspect(name)), 0, 'failed jobs removed once recorded');
      assert.match(worker.output().stderr, /refused task [0-9a-f]+: version mismatch/);
    } finally {
      await runner.close();
      store.close();
      worker.kill('SIGTERM');
      await exited(worker);
    }
  });

  test('an unreachable Redis is a one-line error, not a hang', async () => {
    const r = boptAsync(['worker', '--queue', 'redis://127.0.0.1:1/0']);
    children.push(r);
    const { code } = await exited(r);
    assert.equal(code, 2);
    assert.match(r.output().stderr.trim(), /^bopt: cannot reach Redis at redis:\/\/127\.0\.0\.1:1\/0: .*ECONNREFUSED/);
  });
});
