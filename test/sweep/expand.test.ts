import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTrainConfig } from '../../src/engines/config.js';
import { COST_PARAMS, estimateCost } from '../../src/sweep/cost.js';
import { streamTaskRows } from '../../src/sweep/expand.js';
import { parseSweep, parseSweepDocument, rangeValues, streamTasks, taskKey } from '../../src/sweep/index.js';
import { validateSweep } from '../../src/sweep/schema.js';
import { BASE, column, sweep } from './helpers.js';

test('grid: cartesian product in file order, first axis slowest, seeds fastest', () => {
  const s = sweep(`name: order
${BASE}grid:
  lr: [0.1, 1]
  batch_size: [10, 20, 30]
repeats: 2
`);
  assert.equal(s.tasks.length, 12);
  assert.deepEqual(column(s, 'lr', 'batch_size', 'seed'), [
    [0.1, 10, 0],
    [0.1, 10, 1],
    [0.1, 20, 0],
    [0.1, 20, 1],
    [0.1, 30, 0],
    [0.1, 30, 1],
    [1, 10, 0],
    [1, 10, 1],
    [1, 20, 0],
    [1, 20, 1],
    [1, 30, 0],
    [1, 30, 1],
  ]);
  assert.deepEqual(s.varying, ['batch_size', 'lr', 'seed']);
  assert.equal(s.duplicates, 0);
  assert.equal(s.name, 'order');
});

test('tasks carry complete, defaulted params, their key and their cost', () => {
  const s = sweep(`name: full\n${BASE}grid:\n  lr: [0.5]\n  batch_size: [32]\n`);
  assert.equal(s.tasks.length, 1);
  const [t] = s.tasks;
  const expected = parseTrainConfig({
    engine: 'reference',
    model: 'mlp',
    dataset: 'mnist',
    n_train: 1000,
    steps: 100,
    lr: 0.5,
    batch_size: 32,
    seed: 0,
  });
  assert.deepEqual(t.params, expected);
  assert.equal(t.params.seed, 0, 'no repeats/seeds: one run with seed 0');
  assert.equal(t.params.hidden, 800, 'defaults filled in');
  assert.equal(t.key, taskKey(expected));
  assert.match(t.key, /^[0-9a-f]{64}$/);
  assert.equal(t.cost, estimateCost(expected));
});

test('a sweep with no grid is one task', () => {
  const s = sweep(
    `name: one\nfixed: {engine: reference, model: softmax, dataset: mnist, n_train: 100, steps: 5, lr: 0.1, batch_size: 10}\n`,
  );
  assert.equal(s.tasks.length, 1);
  assert.deepEqual(s.varying, []);
});

test('log ranges: log-spaced, exact ends, integer parameters rounded and deduplicated', () => {
  assert.deepEqual(rangeValues('log', 1, 1000, 4), [1, 10, 100, 1000]);
  const s = sweep(`name: logs\n${BASE}  lr: 1\ngrid:\n  batch_size: {log: {from: 1, to: 1000, num: 7}}\n`);
  assert.deepEqual(column(s, 'batch_size').flat(), [1, 3, 10, 32, 100, 316, 1000]);

  // 1..4 in 10 log steps rounds to 1,1,1,2,2,2,3,3,4,4: duplicates dropped, order kept
  const d = sweep(`name: dedup\n${BASE}  lr: 1\ngrid:\n  batch_size: {log: {from: 1, to: 4, num: 10}}\n`);
  assert.deepEqual(column(d, 'batch_size').flat(), [1, 2, 3, 4]);

  // non-integer parameter: clean values (12 significant digits), no float noise
  const l = sweep(`name: lrs\n${BASE}  batch_size: 10\ngrid:\n  lr: {log: {from: 0.001, to: 1, num: 7}}\n`);
  assert.deepEqual(column(l, 'lr').flat(), [0.001, 0.00316227766017, 0.01, 0.0316227766017, 0.1, 0.316227766017, 1]);

  // round: true on a float parameter
  const r = sweep(
    `name: rounded\n${BASE}  batch_size: 10\ngrid:\n  lr: {log: {from: 1, to: 100, num: 5, round: true}}\n`,
  );
  assert.deepEqual(column(r, 'lr').flat(), [1, 3, 10, 32, 100]);

  // descending and single-point ranges
  assert.deepEqual(rangeValues('log', 100, 1, 3), [100, 10, 1]);
  assert.deepEqual(rangeValues('log', 5, 50, 1), [5]);
});

test('linear ranges: evenly spaced without accumulated float error', () => {
  const s = sweep(`name: lin\n${BASE}  lr: 1\n  batch_size: 10\ngrid:\n  l2: {linear: {from: 0, to: 1, num: 11}}\n`);
  assert.deepEqual(column(s, 'l2').flat(), [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1]);
  const m = sweep(
    `name: mom\n${BASE}  lr: 1\n  batch_size: 10\ngrid:\n  momentum: {linear: {from: 0, to: 0.9, num: 4}}\n`,
  );
  assert.deepEqual(column(m, 'momentum').flat(), [0, 0.3, 0.6, 0.9]);
  const i = sweep(`name: ints\n${BASE}  lr: 1\ngrid:\n  batch_size: {linear: {from: 10, to: 20, num: 4}}\n`);
  assert.deepEqual(column(i, 'batch_size').flat(), [10, 13, 17, 20], 'integer parameter: Math.round');
});

test('zip: lists varied together form one axis, after the grid axes', () => {
  const s = sweep(`name: zipped
fixed: {engine: reference, model: mlp, dataset: mnist, lr: 1}
grid:
  batch_size: [10, 100]
zip:
  - n_train: [1000, 2000, 4000]
    steps: [100, 200, 400]
seeds: [7, 9]
`);
  assert.equal(s.tasks.length, 2 * 3 * 2);
  assert.deepEqual(column(s, 'batch_size', 'n_train', 'steps', 'seed').slice(0, 6), [
    [10, 1000, 100, 7],
    [10, 1000, 100, 9],
    [10, 2000, 200, 7],
    [10, 2000, 200, 9],
    [10, 4000, 400, 7],
    [10, 4000, 400, 9],
  ]);
  // two zip groups are two axes
  const two = sweep(`name: twozips
fixed: {engine: reference, model: mlp, dataset: mnist}
zip:
  - {n_train: [1000, 2000], steps: [10, 20]}
  - {lr: [0.1, 1], batch_size: {log: {from: 1, to: 100, num: 2}}}
`);
  assert.deepEqual(column(two, 'n_train', 'steps', 'lr', 'batch_size'), [
    [1000, 10, 0.1, 1],
    [1000, 10, 1, 100],
    [2000, 20, 0.1, 1],
    [2000, 20, 1, 100],
  ]);
});

test('repeats and seeds', () => {
  const r = sweep(`name: rep\n${BASE}  lr: 1\n  batch_size: 10\nrepeats: 3\n`);
  assert.deepEqual(column(r, 'seed').flat(), [0, 1, 2]);
  const s = sweep(`name: seeds\n${BASE}  lr: 1\n  batch_size: 10\nseeds: [1, 5, 9]\n`);
  assert.deepEqual(column(s, 'seed').flat(), [1, 5, 9]);
  const g = sweep(`name: seedgrid\n${BASE}  lr: 1\n  batch_size: 10\ngrid:\n  seed: [4, 2]\n`);
  assert.deepEqual(column(g, 'seed').flat(), [4, 2], 'seed may also be an ordinary grid axis');
});

test("derived parameters: the paper's constant SDE time, chains, defaults, integer rounding", () => {
  const s = sweep(`name: fig5
fixed: {engine: reference, model: mlp, dataset: mnist, n_train: 1000, batch_size: 10}
grid:
  lr: [0.3, 1, 3]
derived:
  steps: "10000 / lr"
`);
  assert.deepEqual(column(s, 'lr', 'steps'), [
    [0.3, 33333],
    [1, 10000],
    [3, 3333],
  ]);

  // derived from derived (any order in the file), from a default (hidden = 800), float result cleaned
  const c = sweep(`name: chain
fixed: {engine: reference, model: mlp, dataset: mnist, n_train: 1000, lr: 0.1}
grid:
  batch_size: [10, 100]
derived:
  eval_every: "steps / 10"
  steps: "hidden * n_train / batch_size / 8"
  l2: "0.1 * 3 / batch_size"
`);
  assert.deepEqual(column(c, 'batch_size', 'steps', 'eval_every', 'l2'), [
    [10, 10000, 1000, 0.03],
    [100, 1000, 100, 0.003],
  ]);
  assert.deepEqual(c.varying, ['batch_size', 'l2', 'steps', 'eval_every']);

  // noise scale held constant: B = eps N / (g (1-m)), with g = 50
  const g = sweep(`name: noise
fixed: {engine: reference, model: mlp, dataset: mnist, n_train: 1000, momentum: 0.9, steps: 100}
grid:
  lr: [0.1, 1]
derived:
  batch_size: "lr * n_train / (50 * (1 - momentum))"
`);
  assert.deepEqual(column(g, 'lr', 'batch_size'), [
    [0.1, 20],
    [1, 200],
  ]);
});

test('engine: auto (or no engine) resolves to the default engine; engine can be an axis', () => {
  const text = `name: eng\nfixed: {model: mlp, dataset: mnist, n_train: 100, steps: 1, lr: 1, batch_size: 1}\n`;
  assert.equal(parseSweep(text, 'x.yaml', { defaultEngine: 'reference' }).tasks[0].params.engine, 'reference');
  assert.equal(parseSweep(text, 'x.yaml', { defaultEngine: 'native' }).tasks[0].params.engine, 'native');
  const auto = parseSweep(text.replace('{model', '{engine: auto, model'), 'x.yaml', { defaultEngine: 'native' });
  assert.equal(auto.tasks[0].params.engine, 'native');
  const axis = parseSweep(
    `name: eng2\nfixed: {model: mlp, dataset: mnist, n_train: 100, steps: 1, lr: 1, batch_size: 1}\ngrid:\n  engine: [reference, native, auto]\n`,
    'x.yaml',
    { defaultEngine: 'native' },
  );
  assert.deepEqual(column(axis, 'engine').flat(), ['reference', 'native'], 'auto = native here: a duplicate, dropped');
  assert.equal(axis.duplicates, 1);
  // without options, the registry decides (native where the addon is built, else reference)
  assert.ok(['native', 'reference'].includes(parseSweep(text, 'x.yaml').tasks[0].params.engine));
});

test('duplicate points are dropped, the first occurrence kept', () => {
  const s = sweep(`name: dups\n${BASE}  lr: 1\ngrid:\n  batch_size: [10, 20, 10, 1e1]\nrepeats: 2\n`);
  assert.deepEqual(column(s, 'batch_size', 'seed'), [
    [10, 0],
    [10, 1],
    [20, 0],
    [20, 1],
  ]);
  assert.equal(s.duplicates, 4);
  // spelling a default explicitly is the same task as leaving it out
  const d = sweep(
    `name: defaults\n${BASE}  lr: 1\n  batch_size: 10\ngrid:\n  hidden: [800, 400]\n  momentum: [0, 0.0]\n`,
  );
  assert.equal(d.tasks.length, 2);
  const plain = sweep(`name: plain\n${BASE}  lr: 1\n  batch_size: 10\n`);
  assert.equal(d.tasks[0].key, plain.tasks[0].key);
  // derived collisions: steps = round(10/lr) is 10 for both lr values
  const x = sweep(
    `name: dcol\nfixed: {engine: reference, model: mlp, dataset: mnist, n_train: 10, batch_size: 1}\ngrid:\n  lr: [1, 1]\nderived:\n  steps: "10 / lr"\n`,
  );
  assert.equal(x.tasks.length, 1);
});

test('YAML conveniences: labels: true is the string "true", JSON files accepted', () => {
  const s = sweep(`name: labels\n${BASE}  lr: 1\n  batch_size: 10\ngrid:\n  labels: [true, random]\n`);
  assert.deepEqual(column(s, 'labels').flat(), ['true', 'random']);
  const json = JSON.stringify({
    name: 'json',
    fixed: { engine: 'reference', model: 'mlp', dataset: 'mnist', n_train: 1000, steps: 100, lr: 1 },
    grid: { batch_size: { log: { from: 1, to: 100, num: 3 } } },
    repeats: 2,
  });
  const j = parseSweep(json, 'sweeps/x.json', { defaultEngine: 'reference' });
  assert.equal(j.tasks.length, 6);
  assert.equal(j.name, 'json');
});

test('expansion is deterministic', () => {
  const text = `name: det\n${BASE}grid:\n  lr: {log: {from: 0.01, to: 10, num: 4}}\n  batch_size: {log: {from: 1, to: 1000, num: 7}}\nrepeats: 3\n`;
  const a = sweep(text);
  const b = sweep(text);
  assert.deepEqual(a.tasks, b.tasks);
  assert.equal(a.specHash, b.specHash);
});

test('a checked grid streamed a second time without the schema gives the same tasks as through it', () => {
  // Defaults left out, a derived parameter, an engine axis with auto, a zip axis and more than one
  // recheck interval of points: every case where a value or a default could differ.
  const text = `name: checked
fixed: {model: mlp, dataset: mnist, n_train: 1000, steps: 10}
grid:
  engine: [reference, auto]
  lr: {log: {from: 0.01, to: 10, num: 70}}
  batch_size: {log: {from: 1, to: 1000, num: 16}}
zip:
  - momentum: [0, 0.9]
    labels: [true, random]
derived:
  l2: "lr / batch_size / 1000"
repeats: 2
`;
  const ctx = { file: 'x.yaml', locate: () => undefined };
  const spec = validateSweep(parseSweepDocument(text, 'x.yaml'), ctx);
  const options = { defaultEngine: 'native' as const };
  const checked = [...streamTasks(spec, options, true)];
  const schema = [...streamTasks(spec, options)];
  assert.equal(checked.length, 2 * 70 * 16 * 2 * 2);
  assert.ok(checked.length > 4096 * 2, 'more than one recheck interval');
  for (let i = 0; i < schema.length; i++) {
    assert.deepEqual(Object.keys(checked[i]!.params), Object.keys(schema[i]!.params), `task ${i}: key order`);
    assert.deepEqual(checked[i], schema[i], `task ${i}`);
  }
  assert.equal(checked[0]!.params.hidden, 800, 'a default filled in');
});

test('estimateCost reads only COST_PARAMS (a grid that varies none of them has one cost)', () => {
  const models = ['logreg', 'softmax', 'mlp'].map((model) =>
    parseTrainConfig({
      engine: 'reference',
      model,
      dataset: model === 'logreg' ? 'synthetic' : 'mnist',
      n_train: 100,
      batch_size: 10,
      lr: 0.1,
      steps: 20,
      eval_every: 5,
      seed: 0,
    }),
  );
  for (const params of models) {
    const read = new Set<string | symbol>();
    const watched = new Proxy(params, {
      get: (target, key, receiver) => (read.add(key), Reflect.get(target, key, receiver)),
    });
    assert.equal(estimateCost(watched), estimateCost(params));
    for (const key of read)
      assert.ok((COST_PARAMS as readonly (string | symbol)[]).includes(key), `reads ${String(key)}`);
  }
});

test('streamTaskRows gives the keys, JSONs, engines and costs of streamTasks, checked or not', () => {
  const text = `name: rows
fixed: {engine: reference, model: mlp, dataset: mnist, n_train: 100, batch_size: 10}
grid:
  lr: {log: {from: 0.001, to: 1, num: 9}}
  steps: [10, 20]
derived:
  l2: "lr / 10"
repeats: 3
`;
  const spec = validateSweep(parseSweepDocument(text, 'rows.yaml'), { file: 'rows.yaml' });
  const expected = [...streamTasks(spec, {}, true)].map((t) => [t.key, t.paramsJson, t.params.engine, t.cost]);
  assert.equal(new Set(expected.map((t) => t[3])).size, 2, 'cost varies with the steps');
  for (const checked of [true, false])
    assert.deepEqual(
      [...streamTaskRows(spec, {}, checked)].map((t) => [t.key, t.paramsJson, t.engine, t.cost]),
      expected,
    );
  for (const from of [1, 3, 7, 53, 54])
    assert.deepEqual(
      [...streamTaskRows(spec, {}, true, from)].map((t) => [t.key, t.paramsJson, t.engine, t.cost]),
      expected.slice(from),
      `from point ${from}: the tail of the stream`,
    );
  // No axis of a parameter the cost depends on: the points after the first are not built into objects.
  const oneCostText = text
    .replace('batch_size: 10}', 'batch_size: 10, steps: 10}')
    .replace('steps: [10, 20]', 'momentum: [0, 0.9]');
  const oneCost = validateSweep(parseSweepDocument(oneCostText, 'rows.yaml'), { file: 'rows.yaml' });
  assert.deepEqual(
    [...streamTaskRows(oneCost, {}, true)].map((t) => [t.key, t.paramsJson, t.engine, t.cost]),
    [...streamTasks(oneCost, {}, true)].map((t) => [t.key, t.paramsJson, t.params.engine, t.cost]),
  );
});
