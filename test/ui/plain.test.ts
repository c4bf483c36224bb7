import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createPlainReporter } from '../../src/ui/plain.js';
import { bopt, tempDir, writeSweep } from '../helpers/index.js';
import { params, sweepEvents } from './events.js';

let dir: string;
let cleanup: () => void;
before(() => ({ dir, cleanup } = tempDir()));
after(() => cleanup());

test('plain reporter: at most one progress line a second, one per failure, a final summary with B_opt', () => {
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
  assert.ok(progress.length <= Math.ceil(seconds) + 1, `${progress.length} progress lines in ${seconds} s`);
  assert.match(lines[0]!, /^sweep fig5-lr: 21 tasks \(0 already done, 21 to run\) on 2 workers/);
  assert.deepEqual(
    lines.filter((l) => l.startsWith('failed:')),
    ['failed: task kfail after 3 attempts: loss became NaN at step 17'],
  );
  assert.match(progress.at(-1)!, /done, \d+ running, \d+ pending, \d failed \(\d+% of cost\), [\d.]+ tasks\/min, eta /);
  assert.match(lines.at(-2)!, /^B_opt \(best grid point\): eps=0\.5 -> 32 \(acc 0\.950\), eps=1 -> 64/);
  assert.match(lines.at(-1)!, /^interrupted: 18\/21 done, 1 failed/);
  for (const l of lines) assert.doesNotMatch(l, /\x1b/);
  assert.ok(params());
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
  assert.match(lines.at(-2)!, /^B_opt \(best grid point\): eps=0\.1 -> \d+ .*eps=0\.4 -> \d+/);
  assert.match(lines.at(-1)!, /^finished: 6\/6 done, 0 failed, 0 pending in /);
});
