/**
 * Inputs that would exhaust memory before validation are refused first: the CLI runs here with a
 * small heap, so a regression fails fast with an out-of-memory crash instead of endangering the machine.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseSweep, longTaskWarning } from '../../src/sweep/index.js';
import type { LoadedSweep } from '../../src/sweep/types.js';
import { CLI } from '../helpers/cli.js';
import { tempDir } from '../helpers/fixtures.js';

const HEADER = `fixed: {engine: reference, model: logreg, dataset: synthetic, n_train: 40, n_test: 40, batch_size: 10, lr: 0.1, steps: 3}\n`;

function runSmallHeap(file: string, dbPath: string): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, ['--max-old-space-size=192', CLI, 'run', file, '--no-ui', '--db', dbPath], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: r.status, stderr: r.stderr };
}

test('huge counts, huge files and non-regular paths: one-line error, exit 2, nothing written', () => {
  const { dir, cleanup } = tempDir();
  try {
    const cases: Array<{ name: string; file: string; expect: RegExp }> = [];
    const add = (name: string, body: string, expect: RegExp): void => {
      const file = join(dir, `${name}.yaml`);
      writeFileSync(file, body);
      cases.push({ name, file, expect });
    };
    add('repeats', `name: r\n${HEADER}repeats: 1000000000\n`, /repeats: expected at most 1000000, got 1000000000/);
    add(
      'linear',
      `name: l\n${HEADER}grid: {l2: {linear: {from: 0, to: 1, num: 100000000}}}\n`,
      /num: expected at most 1000000, got 100000000/,
    );
    // Each axis is within its own limit; the product is refused after the second, before the third is built.
    add(
      'product',
      `name: p\n${HEADER.replace('lr: 0.1, ', '')}grid:\n` +
        `  l2: {linear: {from: 0, to: 1, num: 1000000}}\n  lr: {linear: {from: 0.1, to: 1, num: 1000}}\n` +
        `  n_test: {linear: {from: 1, to: 1000000, num: 1000000}}\n`,
      /the sweep has at least 1000000000 points \(1000000 x 1000\); the limit is 10000000/,
    );
    const big = join(dir, 'big.yaml');
    writeFileSync(
      big,
      `name: b\n${HEADER}grid:\n  lr: [${Array.from({ length: 700_000 }, (_, i) => (i + 1) / 1e6).join(', ')}]\n`,
    );
    cases.push({ name: 'big', file: big, expect: /MiB; a sweep file is at most 4 MiB/ });
    cases.push({ name: 'device', file: '/dev/zero', expect: /not a regular file/ });
    for (const c of cases) {
      const dbPath = join(dir, `${c.name}.sqlite`);
      const r = runSmallHeap(c.file, dbPath);
      assert.equal(r.status, 2, `${c.name}: ${r.stderr.slice(0, 300)}`);
      assert.equal(r.stderr.trim().split('\n').length, 1, `${c.name}: ${r.stderr}`);
      assert.match(r.stderr, c.expect, c.name);
      assert.ok(!existsSync(dbPath), `${c.name}: no database written`);
    }
  } finally {
    cleanup();
  }
});

test('values that cannot work are refused when the sweep is loaded: file, field and value on one line, exit 2, no task rows', () => {
  const { dir, cleanup } = tempDir();
  try {
    const base = { engine: 'reference', model: 'mlp', dataset: 'mnist', hidden: 8, n_train: 100, batch_size: 10 };
    const cases: Array<[string, Record<string, unknown>, RegExp]> = [
      ['n-train', { n_train: 60001 }, /fixed\.n_train: .*60001 is more than the 60000 MNIST training images/],
      [
        'n-train-01',
        { model: 'logreg', dataset: 'mnist01', n_train: 20000 },
        /fixed\.n_train: .*20000 is more than 11847, the largest balanced 0\/1 subset/,
      ],
      ['n-test', { n_test: 10001 }, /fixed\.n_test: .*10001 is more than the 10000 MNIST test images/],
      ['hidden', { hidden: 1000000 }, /fixed\.hidden: expected at most 16384 hidden units, got 1000000/],
      ['steps', { steps: 1e15 }, /fixed\.steps: expected at most 1000000000 steps, got 1000000000000000/],
      [
        'synthetic',
        { model: 'logreg', dataset: 'synthetic', features: 100000, n_train: 5000 },
        /fixed\.n_train: .*5000 examples of 100000 features are 500000000 numbers, more than the limit/,
      ],
    ];
    for (const [name, over, expect] of cases) {
      const file = join(dir, `${name}.yaml`);
      writeFileSync(file, `name: v\nfixed: ${JSON.stringify({ ...base, lr: 0.1, steps: 3, ...over })}\n`);
      const dbPath = join(dir, `${name}.sqlite`);
      const r = runSmallHeap(file, dbPath);
      assert.equal(r.status, 2, `${name}: ${r.stderr}`);
      assert.equal(r.stderr.trim().split('\n').length, 1, `${name}: ${r.stderr}`);
      assert.ok(r.stderr.includes(`${name}.yaml: `), `${name}: names the file: ${r.stderr}`);
      assert.match(r.stderr, expect, name);
      assert.ok(!existsSync(dbPath), `${name}: nothing written`);
    }
  } finally {
    cleanup();
  }
});

test('a legitimately huge task is a warning, not an error', () => {
  const body = `name: w\nfixed: {engine: reference, model: logreg, dataset: synthetic, n_train: 1000, lr: 0.1, steps: 100000000}\ngrid: {batch_size: [10, 1000]}\n`;
  const warning = longTaskWarning(parseSweep(body, 'sweeps/w.yaml'));
  assert.match(
    warning ?? '',
    /^bopt: warning: sweeps\/w\.yaml: steps: a task trains 100000000 steps of batch 1000 \(1\.0e\+11 examples\)/,
  );
  assert.equal(longTaskWarning(parseSweep(body.replace('100000000', '1000'), 'sweeps/w.yaml')), null);
});

test('the long-task check uses the longest task found while the grid was checked, never the whole task list', () => {
  const body = `name: w\nfixed: {engine: reference, model: logreg, dataset: synthetic, n_train: 1000, lr: 0.1, steps: 100000000}\ngrid: {batch_size: [10, 1000]}\n`;
  const sweep = parseSweep(body, 'sweeps/w.yaml');
  assert.ok(sweep.longestTask, 'a grid finds its longest task when checked');
  const guarded = {
    name: sweep.name,
    file: sweep.file,
    longestTask: sweep.longestTask,
    get tasks(): never {
      throw new Error('the whole task list was materialised');
    },
  } as unknown as LoadedSweep;
  assert.match(longTaskWarning(guarded) ?? '', /a task trains 100000000 steps of batch 1000/);
});
