import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createPlainReporter } from '../../src/ui/plain.js';
import { bopt, tempDir, writeSweep } from '../helpers/index.js';
import type { SweepEvent } from '../../src/scheduler/events.js';
import { params, sweepEvents } from './events.js';

let dir: string;
let cleanup: () => void;
before(() => ({ dir, cleanup } = tempDir()));
after(() => cleanup());

test('plain reporter: few progress lines, one per failure, a final summary with B_opt', () => {
  const lines: string[] = [];
  let clock = 0;
  const report = createPlainReporter({ write: (l) => lines.push(l), now: () => clock });
  for (const e of sweepEvents()) {
    clock += 100; // 10 events a second
    report(e);
  }
  clock += 100;
  report({
    type: 'sweep-end',
    counts: { pending: 0, running: 2, done: 18, failed: 1 },
    reason: 'interrupted',
    wallMs: clock,
  });
  const progress = lines.filter((l) => l.startsWith('progress:'));
  const seconds = clock / 1000;
  // one every 10 s, plus one per 5 % of the cost done
  assert.ok(progress.length <= Math.ceil(seconds / 10) + 20, `${progress.length} progress lines in ${seconds} s`);
  assert.ok(progress.length < 21, `${progress.length} progress lines for 21 tasks`);
  assert.match(lines[0]!, /^sweep fig5-lr: 21 tasks \(0 already done, 21 to run\) on 2 workers/);
  assert.deepEqual(
    lines.filter((l) => l.startsWith('failed:')),
    ['failed: task kfail after 3 attempts: loss became NaN at step 17'],
  );
  assert.match(progress.at(-1)!, /done, \d+ running, \d+ pending, \d failed \(\d+% of cost\), [\d.]+ tasks\/min, eta /);
  assert.match(lines.at(-2)!, /^B_opt: eps=0\.5 -> 32 \(acc 0\.950\), eps=1 -> 64/);
  assert.match(lines.at(-1)!, /^interrupted: 18\/21 done, 1 failed/);
  for (const l of lines) assert.doesNotMatch(l, /\x1b/);
  assert.ok(params());
});

const start = (tasks: number, costEach: number): SweepEvent => ({
  type: 'sweep-start',
  sweep: 'cadence',
  database: '/tmp/cadence.sqlite',
  engine: 'reference',
  workers: 1,
  counts: { pending: tasks, running: 0, done: 0, failed: 0 },
  remainingCost: tasks * costEach,
  totalCost: tasks * costEach,
});

test('plain reporter: one progress line every 10 s while a long task reports steps', () => {
  const times: number[] = [];
  let clock = 0;
  const report = createPlainReporter({
    write: (l) => void (l.startsWith('progress:') && times.push(clock)),
    now: () => clock,
  });
  const p = params({ steps: 1_000_000 });
  report(start(20, 1e9));
  report({ type: 'task-start', key: 'long', params: p, lane: 0, attempt: 1, cost: 1e9 });
  // two minutes of step progress, ten reports a second, a negligible share of the cost
  for (let step = 1; step <= 1200; step++) {
    clock += 100;
    report({ type: 'task-progress', key: 'long', lane: 0, step, totalSteps: 1_000_000, loss: 1 });
  }
  assert.equal(times.length, 12, `lines at ${times.join(', ')} ms`);
  for (let i = 1; i < times.length; i++) assert.ok(times[i]! - times[i - 1]! >= 10_000, `lines at ${times.join(', ')}`);
});

test('plain reporter: quick tasks give one progress line per 5 % of the cost, not one per task', () => {
  const lines: string[] = [];
  let clock = 0;
  const report = createPlainReporter({ write: (l) => lines.push(l), now: () => clock });
  const p = params();
  report(start(1000, 10));
  for (let i = 0; i < 1000; i++) {
    clock += 5; // 200 tasks a second: the whole sweep takes 5 s
    const key = `k${i}`;
    report({ type: 'task-start', key, params: p, lane: 0, attempt: 1, cost: 10 });
    report({
      type: 'task-done',
      key,
      params: p,
      lane: 0,
      cost: 10,
      testAccuracy: 0.9,
      trainAccuracy: 0.9,
      diverged: false,
      wallMs: 5,
    });
  }
  const progress = lines.filter((l) => l.startsWith('progress:'));
  assert.ok(progress.length >= 19 && progress.length <= 21, `${progress.length} progress lines`);
  assert.match(progress[0]!, /\(5% of cost\)/);
});

test('bopt run --no-ui prints plain lines (no escape codes, no cursor movement) and a summary', () => {
  const file = writeSweep(
    dir,
    'ui-plain',
    `name: ui-plain
fixed:
  engine: reference
  model: logreg
  dataset: synthetic
  n_train: 64
  n_test: 64
  steps: 10
grid:
  lr: [0.1, 0.4]
  batch_size: [4, 16, 64]
`,
  );
  const run = bopt(['run', file, '--db', join(dir, 'plain.sqlite'), '--workers', '2', '--no-ui'], { NO_COLOR: '' });
  assert.equal(run.status, 0, run.stderr);
  assert.doesNotMatch(run.stdout, /\x1b|\r/);
  const lines = run.stdout.trimEnd().split('\n');
  assert.match(lines[0]!, /^sweep ui-plain: 6 tasks \(0 already done, 6 to run\) on 2 workers, engine reference/);
  for (const l of lines.slice(1, -2)) assert.match(l, /^(progress|retry|failed): /);
  assert.match(lines.at(-2)!, /^B_opt: eps=0\.1 -> \d+ .*eps=0\.4 -> \d+/);
  assert.match(lines.at(-1)!, /^finished: 6\/6 done, 0 failed, 0 pending in /);
});

test('the summary of a sweep of many groups lists the most accurate few and a count of the rest', () => {
  const lrs = Array.from({ length: 49 }, (_, i) => 0.01 * (i + 1));
  const lines: string[] = [];
  const report = createPlainReporter({ write: (l) => lines.push(l), now: () => 0 });
  for (const e of sweepEvents({ lrs, batches: [8, 64, 512], fail: false })) report(e);
  report({
    type: 'sweep-end',
    counts: { pending: 0, running: 0, done: 145, failed: 0 },
    reason: 'complete',
    wallMs: 1,
  });
  const line = lines.at(-2)!;
  assert.match(line, /^B_opt, the 5 most accurate of 49 groups: /, line);
  assert.equal(line.match(/ -> /g)?.length, 5, line);
  assert.match(line, /; 44 more: bopt fit fig5-lr; fit B_opt = k·eps/);
  assert.ok(line.length < 400, `${line.length} characters`);
});
