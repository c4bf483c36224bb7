/**
 * `bopt plan`: the price of a sweep from stored wall times or from a probe, and a dry run that
 * leaves the database alone.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parseTrainConfig } from '../../src/engines/config.js';
import { loadEngine } from '../../src/engines/registry.js';
import { packedWallSeconds, planSweep, storedRate } from '../../src/scheduler/plan.js';
import { estimateCost } from '../../src/sweep/cost.js';
import { loadSweep } from '../../src/sweep/index.js';
import type { ExpandedTask } from '../../src/sweep/types.js';
import { searchBudget } from '../../src/scheduler/search-budget.js';
import { bopt, tempDir, tinySweep, writeSweep } from '../helpers/index.js';

let dir: string;
let cleanup: () => void;
before(() => ({ dir, cleanup } = tempDir()));
after(() => cleanup());

const base = {
  engine: 'reference',
  model: 'mlp',
  dataset: 'mnist',
  hidden: 16,
  n_train: 100,
  n_test: 200,
  lr: 0.1,
  seed: 0,
} as const;

test('a stored wall time prices a similar task scaled by its steps, preferring the same batch size', () => {
  const stored = [
    { params: parseTrainConfig({ ...base, batch_size: 10, steps: 100 }), wallMs: 2000 },
    { params: parseTrainConfig({ ...base, batch_size: 100, steps: 100 }), wallMs: 90_000 },
  ];
  const task = parseTrainConfig({ ...base, batch_size: 10, steps: 300 });
  const seconds = storedRate(task, stored)! * estimateCost(task);
  // three times the steps of the B = 10 task (the evaluation at the end does not triple)
  assert.ok(seconds > 2 * 2 && seconds < 3 * 2 + 0.01, `got ${seconds}`);
  const otherModel = parseTrainConfig({ ...base, hidden: 32, batch_size: 10, steps: 300 });
  assert.equal(storedRate(otherModel, stored), undefined);
});

test('wall time packs the longest tasks first onto the workers', () => {
  assert.equal(packedWallSeconds([5, 3, 3, 2, 2, 1], 2), 8);
  assert.equal(packedWallSeconds([4, 1], 1), 5);
  assert.equal(packedWallSeconds([7, 1, 1], 4), 7);
});

test('a database with similar results prices every task without a probe; done tasks are skipped', async () => {
  const sweep = tinySweep('priced', [1, 2, 3]);
  const stored = [{ params: sweep.tasks[0].params, wallMs: 1000 }];
  const plan = await planSweep(sweep.tasks, {
    workers: 2,
    done: new Set([sweep.tasks[0].key]),
    stored,
    loadFactory: () => Promise.reject(new Error('no probe expected')),
  });
  assert.equal(plan.alreadyDone, 1);
  assert.equal(plan.toRun.length, 2);
  assert.equal(plan.fromDatabase, 2);
  assert.equal(plan.fromProbe, 0);
  assert.ok(Math.abs(plan.cpuSeconds - 2) < 1e-9);
  assert.ok(Math.abs(plan.wallSeconds - 1) < 1e-9);
});

test('without stored timings a short probe prices the tasks, bigger tasks costing more', async () => {
  const small = parseTrainConfig({ ...base, batch_size: 10, steps: 200 });
  const big = { ...small, steps: 2000 };
  const tasks = [small, big].map((params, i) => ({ key: `k${i}`, params, cost: estimateCost(params) }));
  let loads = 0;
  const plan = await planSweep(tasks, {
    workers: 1,
    done: new Set(),
    stored: [],
    probeBudgetSeconds: 0.2,
    loadFactory: (cfg) => (loads++, loadEngine(cfg.engine)),
  });
  assert.equal(loads, 1, 'one probe per kind of task');
  assert.equal(plan.fromProbe, 2);
  assert.ok(plan.probeSeconds > 0);
  const [a, b] = plan.toRun.map((e) => e.seconds);
  assert.ok(a > 0 && b > 5 * a, `${a} vs ${b}`);
  assert.ok(Math.abs(plan.wallSeconds - (a + b)) < 1e-9);
});

test('bopt plan writes nothing: an existing database stays byte-identical, an absent one is not created', () => {
  const file = writeSweep(
    dir,
    'planned',
    `name: planned
fixed: {engine: reference, model: mlp, hidden: 16, dataset: mnist, n_train: 100, n_test: 200, steps: 20, lr: 0.1}
grid:
  batch_size: [10, 100]
repeats: 2
`,
  );
  const absent = join(dir, 'absent.sqlite');
  const fresh = bopt(['plan', file, '--db', absent]);
  assert.equal(fresh.status, 0, fresh.stderr);
  assert.match(fresh.stdout, /4 tasks, 0 already in .*, 4 to run/);
  assert.match(fresh.stdout, /CPU-seconds \(\d+\.\d+ CPU-hours\)/);
  assert.match(fresh.stdout, /0 task\(s\) from stored wall times of similar tasks, 4 from a probe/);
  assert.equal(existsSync(absent), false);

  const db = join(dir, 'ran.sqlite');
  const ran = bopt(['run', file, '--no-ui', '--db', db, '--workers', '1']);
  assert.equal(ran.status, 0, ran.stderr);
  const before = readFileSync(db);
  const planned = bopt(['plan', file, '--db', db, '--workers', '3']);
  assert.equal(planned.status, 0, planned.stderr);
  assert.match(planned.stdout, /4 tasks, 4 already in .*, 0 to run/);
  assert.match(planned.stdout, /on 3 workers/);
  assert.deepEqual(readFileSync(db), before);

  const more = writeSweep(dir, 'planned', readFileSync(file, 'utf8').replace('steps: 20', 'steps: 40'));
  const scaled = bopt(['plan', more, '--db', db]);
  assert.equal(scaled.status, 0, scaled.stderr);
  assert.match(scaled.stdout, /4 task\(s\) from stored wall times of similar tasks, 0 from a probe/);
  assert.deepEqual(readFileSync(db), before);
});

test('a search is priced by its expected and its maximum budget; the maximum respects max_tasks and max_epochs', () => {
  const text = (budget: string): string => `name: searched
fixed: {engine: reference, model: mlp, hidden: 16, dataset: mnist, n_test: 200, steps: 50, lr: 0.1, momentum: 0.9}
grid:
  n_train: [200, 400, 800]
search: {from: 1, to: 1000, seeds: 2, peak_seeds: 3, max_tasks: 30${budget}}
`;
  const price = (t: ExpandedTask): number => estimateCost(t.params);
  const open = (budget: string) => loadSweep(writeSweep(dir, 'searched', text(budget)));
  const unlimited = searchBudget(open(''), new Map(), price, 2);
  assert.ok(unlimited.expected.tasks > 0 && unlimited.expected.tasks <= unlimited.maximum.tasks);
  assert.ok(unlimited.maximum.tasks <= 3 * 30, 'at most max_tasks per group');
  assert.ok(unlimited.expected.cpuSeconds < unlimited.maximum.cpuSeconds);
  // rounds wait for each other: the wall time is at least the CPU time spread over the workers
  assert.ok(unlimited.expected.wallSeconds >= unlimited.expected.cpuSeconds / 2 - 1e-6);
  const capped = searchBudget(open(', max_epochs: 100'), new Map(), price, 2);
  assert.ok(capped.maximum.cpuSeconds < unlimited.maximum.cpuSeconds);
  // 100 epochs of 50 steps: at most 2 full-batch runs' worth of examples per group
  const perExample =
    estimateCost({ ...open('').tasks[0].params, steps: 1, batch_size: 1 }) -
    estimateCost({ ...open('').tasks[0].params, steps: 0 });
  const examplesCap = 100 * (200 + 400 + 800);
  const evalCost = capped.maximum.tasks * estimateCost({ ...open('').tasks[0].params, steps: 0, n_train: 800 });
  assert.ok(capped.maximum.cpuSeconds <= examplesCap * perExample + evalCost + 1e-6);
});

test('bopt plan on a search file prints the expected and the maximum budget and writes nothing', () => {
  const file = writeSweep(
    dir,
    'searched-cli',
    `name: searched-cli
fixed: {engine: reference, model: mlp, hidden: 16, dataset: mnist, n_train: 100, n_test: 200, steps: 20, lr: 0.1}
search: {from: 1, to: 100, seeds: 1, peak_seeds: 2, max_tasks: 12, max_epochs: 50}
`,
  );
  const absent = join(dir, 'absent-search.sqlite');
  const r = bopt(['plan', file, '--db', absent, '--workers', '2']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /adaptive search over \d+ candidate tasks/);
  assert.match(r.stdout, /expected: \d+ tasks to run, \d+ CPU-seconds/);
  assert.match(r.stdout, /maximum: +\d+ tasks to run/);
  assert.equal(existsSync(absent), false);
});
