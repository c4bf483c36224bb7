import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { mkdtempSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { InputError } from '../../src/errors.js';
import { expandInWorker } from '../../src/sweep/batches.js';
import { displayPath, loadSweep, parseSweep } from '../../src/sweep/index.js';
import { FILE, sweep, throwsBopt } from './helpers.js';

/** A valid fixed block (block style, so lines can be appended to it). */
const FIXED = `fixed:
  engine: reference
  model: mlp
  dataset: mnist
  n_train: 1000
`;
const ok = (extra: string): string => `name: x\n${FIXED}${extra}`;
const fails = (text: string, ...fragments: string[]): string =>
  throwsBopt(() => sweep(text), `${FILE}: `, ...fragments);

test('file problems: missing, a directory, unreadable', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bopt-spec-'));
  try {
    throwsBopt(() => loadSweep(join(dir, 'nope.yaml')), 'nope.yaml: file not found');
    mkdirSync(join(dir, 'folder.yaml'));
    throwsBopt(() => loadSweep(join(dir, 'folder.yaml')), 'folder.yaml: cannot read', 'directory');
    const locked = join(dir, 'locked.yaml');
    writeFileSync(locked, 'name: x\n');
    chmodSync(locked, 0o000);
    let readable = true;
    try {
      loadSweep(locked);
    } catch (e) {
      readable = !String((e as Error).message).includes('permission denied');
    }
    if (readable) {
      // running as root: permissions do not stop reading; nothing to check
    } else {
      throwsBopt(() => loadSweep(locked), 'locked.yaml: cannot read: permission denied');
    }
    const good = join(dir, 'good.yaml');
    writeFileSync(good, ok('  lr: 1\n  steps: 1\n  batch_size: 1\n'));
    const s = loadSweep(good);
    assert.equal(s.file, good, 'file is the absolute path');
    assert.equal(s.tasks.length, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('syntax errors carry the line (YAML and JSON)', () => {
  fails('name: x\ngrid:\n  lr: [1, 2\n  b: 3\n', 'line 4', 'YAML syntax error');
  fails('name: x\nname: y\n', 'line 2, column 1', 'Map keys must be unique');
  fails('name: x\nfixed:\n\tlr: 1\n', 'line 3', 'Tabs');
  throwsBopt(
    () => parseSweep('{"name": "x",\n "fixed": {,}}', 'sweeps/x.json'),
    'sweeps/x.json: line 2, column 12: JSON syntax error',
  );
  throwsBopt(() => parseSweep('{"name": "x"', 'sweeps/x.json'), 'sweeps/x.json: line 1', 'JSON syntax error');
});

test('wrong top-level shape and keys', () => {
  fails('', 'the file is empty');
  fails('- a\n- b\n', 'expected a mapping at the top level', 'got a list');
  fails(FIXED, 'name: required, expected a string');
  fails(`name: My Sweep\n${FIXED}`, 'name: expected a name of lowercase letters');
  fails(
    ok('gird:\n  lr: [1]\n'),
    'gird: unknown key "gird" (expected one of: name, description, fixed, grid',
    '(line 7)',
  );
  fails(`name: x\ndescription: 5\n${FIXED}`, 'description: expected a string, got 5');
  fails(ok('zip: {lr: [1]}\n'), 'zip: expected a list, got a mapping');
});

test('unknown parameters name the field and suggest the closest name', () => {
  fails(
    ok('grid:\n  lrr: [1]\n'),
    'grid.lrr: unknown parameter "lrr" (did you mean "lr"? known: engine, model, dataset, hidden',
  );
  fails(ok('  batchsize: 3\n'), 'fixed.batchsize: unknown parameter "batchsize" (did you mean "batch_size"?');
  fails(ok('zip:\n  - {lr: [1], nepochs: [2]}\n'), 'zip[0].nepochs: unknown parameter "nepochs"');
  fails(ok('derived:\n  step: "1"\n'), 'derived.step: unknown parameter "step" (did you mean "steps"?');
});

test('wrong types and values name the field path', () => {
  const base = ok('  lr: 1\n  steps: 10\n');
  fails(
    `${base}grid:\n  batch_size:\n    log: {from: 1, to: 1000, num: seven}\n`,
    'grid.batch_size.log.num: expected a positive integer, got "seven"',
  );
  fails(
    `${base}grid:\n  batch_size: {log: {from: 0, to: 1000, num: 3}}\n`,
    'grid.batch_size.log.from: expected a number > 0 for a log range, got 0',
  );
  fails(
    `${base}grid:\n  batch_size: {log: {from: 1, to: 1000, n: 3}}\n`,
    'grid.batch_size.log.n: unknown key "n" (expected one of: from, to, num, round)',
  );
  fails(
    `${base}grid:\n  batch_size: {linear: {from: 1, to: 1000}}\n`,
    'grid.batch_size.linear.num: required, expected a positive integer',
  );
  fails(
    `${base}grid:\n  batch_size: {logs: {from: 1, to: 1000, num: 3}}\n`,
    'grid.batch_size: expected a list of values, {log: {from, to, num}} or {linear: {from, to, num}}, got a mapping',
  );
  fails(
    `${base}grid:\n  batch_size: 3\n`,
    'grid.batch_size: expected a list of values',
    'got 3 (a single value belongs in fixed)',
  );
  fails(`${base}grid:\n  batch_size: [1, "x", 3]\n`, 'grid.batch_size[1]: expected a number, got "x"');
  fails(`${base}grid:\n  batch_size: [1, 2.5]\n`, 'grid.batch_size[1]: expected an integer, got 2.5');
  fails(
    `${base}grid:\n  batch_size: {linear: {from: 0.2, to: 10, num: 3}}\n`,
    'grid.batch_size.linear: expected a number > 0, got 0 (computed 0.2, rounded)',
  );
  fails(
    `${base}  batch_size: 1\ngrid:\n  momentum: {linear: {from: 0, to: 1, num: 3}}\n`,
    'grid.momentum.linear: expected a number < 1, got 1',
  );
  fails(
    `${base}  batch_size: 1\ngrid:\n  labels: {linear: {from: 0, to: 1, num: 3}}\n`,
    'grid.labels: "labels" is not numeric',
  );
  fails(ok('  lr: [1, 2]\n'), 'fixed.lr: expected a number or a string, got a list');
  fails(ok('  lr: "0.1"\n'), 'fixed.lr: expected a number, got "0.1"');
  fails(ok('  model: cnn\n'.replace('model', 'hidden')), 'fixed.hidden: expected a number, got "cnn"');
  fails(
    `name: x\nfixed: {engine: reference, model: cnn, dataset: mnist}\n`,
    'fixed.model: expected one of logreg, softmax, mlp, got "cnn"',
  );
  fails(
    `name: x\nfixed: {engine: gpu, model: mlp, dataset: mnist}\n`,
    'fixed.engine: expected auto or one of reference, native, tfjs, got "gpu"',
  );
  fails(`${base}  batch_size: 1\nrepeats: 0\n`, 'repeats: expected a positive integer, got 0');
  fails(`${base}  batch_size: 1\nseeds: [1, -2]\n`, 'seeds[1]: expected a non-negative integer, got -2');
  fails(`${base}  batch_size: 1\nseeds: []\n`, 'seeds: expected a non-empty list');
});

test('empty axes, conflicts and zip lengths', () => {
  const base = ok('  lr: 1\n  steps: 10\n');
  fails(`${base}grid:\n  batch_size: []\n`, 'grid.batch_size: expected a non-empty list of values');
  fails(`${base}grid:\n  lr: [1, 2]\n`, 'grid.lr: parameter "lr" is already set in fixed.lr');
  fails(
    `${base}zip:\n  - {batch_size: [1]}\n  - {batch_size: [2]}\n`,
    'zip[1].batch_size: parameter "batch_size" is already set in zip[0].batch_size',
  );
  fails(`${base}  batch_size: 1\nderived:\n  lr: "2"\n`, 'derived.lr: parameter "lr" is already set in fixed.lr');
  fails(`${base}  batch_size: 1\n  seed: 3\nrepeats: 3\n`, 'repeats: the seed is already set in fixed.seed');
  fails(`${base}  batch_size: 1\nrepeats: 3\nseeds: [1]\n`, 'seeds: give either repeats or seeds, not both');
  fails(`${base}zip:\n  - {}\n`, 'zip[0]: expected a mapping of parameters to lists of values, got an empty mapping');
  fails(
    ok('  lr: 1\n  batch_size: 1\nzip:\n  - n_train: [1, 2]\n    steps: [1, 2, 3]\n').replace('  n_train: 1000\n', ''),
    'zip[0].steps: zipped lists must have the same length: zip[0].n_train has 2 values, steps has 3',
  );
  fails(
    ok('  lr: 1\n  steps: 1\n'),
    'fixed: missing required parameter "batch_size" (set it in fixed, grid, zip or derived)',
  );
  fails(
    ok(
      '  lr: 1\n  steps: 1\ngrid:\n  batch_size: {linear: {from: 1, to: 1000000, num: 10000}}\n  hidden: {linear: {from: 1, to: 10000, num: 10000}}\n',
    ),
    'the sweep has at least 100000000 points (10000 x 10000); the limit is 10000000',
  );
});

test('bad derived expressions name the parameter, the variable or the syntax position', () => {
  const base = ok('  lr: 1\n  batch_size: 1\n');
  fails(
    `${base}derived:\n  steps: "10000 /"\n`,
    'derived.steps: expected a number, a name or "(" at column 8, found end of expression in "10000 /"',
  );
  fails(
    `${base}derived:\n  steps: "10000 / lrr"\n`,
    'derived.steps: unknown variable "lrr" at column 9 in "10000 / lrr" (did you mean "lr"?',
  );
  fails(`${base}derived:\n  steps: "foo(lr)"\n`, 'derived.steps: unknown function "foo" at column 1');
  fails(
    `${base}derived:\n  steps: "model * 2"\n`,
    'derived.steps: variable "model" at column 1 in "model * 2" is not numeric',
  );
  fails(`${base}derived:\n  steps: 100\n`, 'derived.steps: expected a string, got 100');
  fails(`${base}  steps: 10\nderived:\n  labels: "1"\n`, 'derived.labels: only numeric parameters can be derived');
  fails(
    ok('  lr: 1\nderived:\n  steps: "batch_size * 2"\n  batch_size: "steps / 2"\n'),
    'derived.steps: circular definition: steps -> batch_size -> steps',
  );
  fails(
    ok('  lr: 1\n  batch_size: 1\nderived:\n  steps: "steps + 1"\n'),
    'derived.steps: circular definition: steps -> steps',
  );
  fails(
    `name: x\nfixed: {engine: reference, model: mlp, dataset: mnist, lr: 1, batch_size: 1}\nderived:\n  steps: "n_train * 2"\n`,
    'derived.steps: variable "n_train" at column 1 in "n_train * 2" has no value',
  );
  fails(
    ok('  batch_size: 1\ngrid:\n  lr: [0.5, 1]\nderived:\n  steps: "1 / (lr - 1) ^ 2"\n'),
    'derived.steps: "1 / (lr - 1) ^ 2" gives Infinity for task 2 (lr=1, steps=(unset))',
  );
});

test('per-task validation names the task, its parameters and the schema message', () => {
  fails(
    `name: x\nfixed: {engine: reference, dataset: mnist01, n_train: 1000, steps: 100, lr: 1, batch_size: 1}\ngrid:\n  model: [mlp, softmax]\n`,
    'grid.model: invalid task 2 (model=softmax): model softmax needs dataset mnist (10 classes)',
  );
  fails(
    ok('  batch_size: 1\ngrid:\n  lr: [1, 0.5]\nderived:\n  steps: "-1 * lr"\n'),
    'derived.steps: invalid task 1 (lr=1, steps=-1): expected a number >= 0, got -1',
  );
  fails(
    `name: x\nfixed: {engine: reference, dataset: mnist, n_train: 1000, steps: 100, lr: 1, batch_size: 1}\nrepeats: 2\ngrid:\n  model: [mlp, logreg]\n`,
    'grid.model: invalid task 3 (model=logreg, seed=0): model logreg is binary',
  );
});

const DEEP_ERRORS: Array<[string, string]> = [
  [
    `name: x\nfixed: {engine: reference, model: mlp, dataset: mnist, n_train: 100, batch_size: 1}\ngrid:\n  lr: {linear: {from: 0.001, to: 1, num: 5000}}\nderived:\n  steps: "2000 - 4000 * lr"\n`,
    'derived.steps: invalid task 2499 (lr=0.500200240048, steps=-1): expected a number >= 0, got -1',
  ],
  [
    `name: x\nfixed: {engine: reference, model: mlp, dataset: mnist, steps: 10, batch_size: 1}\ngrid:\n  n_train: [1000, 60001]\n  lr: {linear: {from: 0.001, to: 1, num: 3000}}\n`,
    'grid.n_train: invalid task 3001 (n_train=60001, lr=0.001): 60001 is more than the 60000 MNIST training images',
  ],
  [
    `name: x\nfixed: {engine: reference, model: mlp, dataset: mnist, n_train: 100, batch_size: 1}\ngrid:\n  lr: {linear: {from: 0.5, to: 1, num: 30000}}\nderived:\n  steps: "100 * sqrt(0.75 - lr)"\n`,
    'derived.steps: "100 * sqrt(0.75 - lr)" gives NaN for task 15001 (lr=0.750008333611, steps=(unset))',
  ],
];

test('a bad point deep in a large grid gets the same error as the first point would', () => {
  // Points after the first are checked value by value (each once) and by configConflicts; the
  // error must still come from the schema and name the first bad point, far from any point the
  // schema itself re-checks.
  for (const [text, message] of DEEP_ERRORS) fails(text, message);
});

test('the expansion worker thread stops at a bad point with the same one-line error, after the batches before it', async () => {
  for (const [text, message] of DEEP_ERRORS) {
    const expected = fails(text, message);
    // Unchecked: the worker meets the bad point itself (a run's grid was checked before it started).
    const source = { text, file: resolve(FILE), shown: displayPath(FILE) };
    const batches = expandInWorker(source, { defaultEngine: 'reference' }, { checked: false, batchSize: 1_000 });
    let tasks = 0;
    try {
      await assert.rejects(
        async () => {
          for (let b = await batches.next(); b; b = await batches.next()) tasks += b.count;
        },
        (e: unknown) => {
          assert.ok(e instanceof InputError, `an InputError, got ${String(e)}`);
          assert.equal(e.message, expected);
          return true;
        },
      );
    } finally {
      await batches.close();
    }
    const bad = Number(/task (\d+)/.exec(message)![1]);
    assert.equal(tasks, Math.floor((bad - 1) / 1_000) * 1_000, 'every whole batch before the bad point');
  }
});

test('error messages point at the line of the field', () => {
  const m = fails(ok('  lr: 1\n  steps: 10\ngrid:\n  batch_size: [1, "x"]\n'), 'grid.batch_size[1]');
  assert.match(m, /\(line 10\)$/);
});
