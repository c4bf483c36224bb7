import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { parseTrainConfig, type TrainConfigInput } from '../../src/engines/config.js';
import { ENGINE_VERSIONS } from '../../src/engines/versions.js';
import { CanonicalShape } from '../../src/sweep/identity.js';
import { canonicalJson, specHash, taskKey } from '../../src/sweep/index.js';
import { sweep } from './helpers.js';

const base: TrainConfigInput = {
  engine: 'reference',
  model: 'mlp',
  dataset: 'mnist',
  n_train: 1000,
  batch_size: 32,
  lr: 0.1,
  steps: 100,
  seed: 0,
};

test('canonicalJson: sorted keys, no whitespace, canonical numbers', () => {
  assert.equal(
    canonicalJson({ b: 1, a: [true, null, 'x'], c: { z: 0.5, y: -0 } }),
    '{"a":[true,null,"x"],"b":1,"c":{"y":0,"z":0.5}}',
  );
  assert.equal(canonicalJson(0.1), canonicalJson(1e-1));
  assert.equal(canonicalJson(Number('0.10')), '0.1');
  assert.equal(canonicalJson(1.0), '1');
  assert.equal(canonicalJson(1e21), '1e+21');
  assert.equal(canonicalJson({ a: undefined, b: 2 }), '{"b":2}');
  assert.equal(canonicalJson('a"b'), '"a\\"b"');
  assert.throws(() => canonicalJson(NaN), /non-finite/);
  assert.throws(() => canonicalJson({ x: Infinity }), /non-finite/);
  // memoised key order must not leak between objects of different shapes
  assert.equal(canonicalJson({ b: 1, a: 2 }), '{"a":2,"b":1}');
  assert.equal(canonicalJson({ b: 1, c: 2 }), '{"b":1,"c":2}');
  assert.equal(canonicalJson({ b: 1, a: 2 }), '{"a":2,"b":1}');
});

test('taskKey = sha256 of canonical {engine_version, params}', () => {
  const params = parseTrainConfig(base);
  const text = canonicalJson({ params, engine_version: ENGINE_VERSIONS.reference });
  assert.ok(text.startsWith('{"engine_version":"reference-1","params":{"batch_size":32,'));
  assert.equal(taskKey(params), createHash('sha256').update(text).digest('hex'));
});

test('key is independent of key order, number spelling and spelled-out defaults', () => {
  const a = parseTrainConfig(base);
  const b = parseTrainConfig({
    seed: 0,
    steps: 100,
    lr: 1e-1,
    batch_size: 32.0,
    n_train: 1000,
    dataset: 'mnist',
    model: 'mlp',
    engine: 'reference',
    hidden: 800,
    momentum: 0,
  });
  assert.equal(taskKey(a), taskKey(b));
});

test('key changes with every parameter and with the engine version', () => {
  const ref = taskKey(parseTrainConfig(base));
  const changes: Partial<TrainConfigInput>[] = [
    { engine: 'native' },
    { model: 'softmax' },
    { hidden: 400 },
    { n_train: 999 },
    { n_test: 5000 },
    { batch_size: 33 },
    { lr: 0.1000001 },
    { momentum: 0.9 },
    { l2: 0.01 },
    { steps: 101 },
    { seed: 1 },
    { labels: 'random' },
    { eval_every: 10 },
    { features: 100 },
  ];
  const keys = new Set([ref]);
  for (const c of changes) {
    const k = taskKey(parseTrainConfig({ ...base, ...c }));
    assert.ok(!keys.has(k), `changing ${JSON.stringify(c)} must change the key`);
    keys.add(k);
  }
  // engine version: same params, another version tag (as when an engine is bumped)
  const params = parseTrainConfig(base);
  const bumped = createHash('sha256')
    .update(canonicalJson({ params, engine_version: 'reference-2' }))
    .digest('hex');
  assert.notEqual(bumped, ref);
});

test('the same configuration in two sweeps has the same key', () => {
  const one = sweep(`name: one
fixed: {engine: reference, model: mlp, dataset: mnist, n_train: 1000, steps: 100, momentum: 0.9}
grid:
  lr: [0.1, 1]
  batch_size: {log: {from: 1, to: 1000, num: 4}}
repeats: 2
`);
  const two = sweep(`# the same point, spelled differently, in a sweep of another shape
name: two
description: another sweep
fixed:
  dataset: mnist
  model: mlp
  engine: reference
  momentum: 0.90
  hidden: 800
grid:
  n_train: [500, 1000]
  lr: [1e-1]
derived:
  batch_size: "n_train / 100"
  steps: "10 / lr"
seeds: [1]
`);
  const k1 = one.tasks.find((t) => t.params.lr === 0.1 && t.params.batch_size === 10 && t.params.seed === 1);
  const k2 = two.tasks.find((t) => t.params.n_train === 1000);
  assert.ok(k1 && k2);
  assert.deepEqual(k1.params, k2.params);
  assert.equal(k1.key, k2.key);
});

test('specHash ignores comments, whitespace, key order and number spelling, not content', () => {
  const a = sweep(
    'name: h\nfixed: {engine: reference, model: mlp, dataset: mnist, n_train: 10, steps: 1, lr: 0.1, batch_size: 1}\n',
  );
  const b = sweep(
    '# comment\nfixed:\n  batch_size: 1\n  lr: 1e-1   # eps\n  steps: 1\n  n_train: 10\n  dataset: mnist\n  model: mlp\n  engine: reference\nname: h\n',
  );
  const c = sweep(
    'name: h\nfixed: {engine: reference, model: mlp, dataset: mnist, n_train: 10, steps: 2, lr: 0.1, batch_size: 1}\n',
  );
  assert.equal(a.specHash, b.specHash);
  assert.notEqual(a.specHash, c.specHash);
  assert.equal(
    a.specHash,
    specHash({
      name: 'h',
      fixed: { engine: 'reference', model: 'mlp', dataset: 'mnist', n_train: 10, steps: 1, lr: 0.1, batch_size: 1 },
    }),
  );
  assert.match(a.specHash, /^[0-9a-f]{64}$/);
  assert.notEqual(a.specText, b.specText, 'the text is kept as written');
});

test('CanonicalShape gives canonicalJson of every object of its shape, or undefined where a varying value is omitted', () => {
  const sample = { z: 1, a: 'x', lr: 0.1, m: undefined, seed: 0, nested: { b: 1, a: [1, 'é', null] }, on: true };
  const shape = new CanonicalShape(sample, new Set(['lr', 'seed', 'a']));
  for (const [lr, seed, a] of [
    [0.1, 0, 'x'],
    [1e-7, 3, 'y "quoted" \u00e9'],
    [-0, 12, ''],
    [1e21, 1, 'π'],
  ] as const) {
    const obj = { ...sample, lr, seed, a };
    assert.equal(shape.encode(obj), canonicalJson(obj));
  }
  assert.equal(shape.encode({ ...sample, lr: undefined }), undefined, 'an omitted member changes the commas');
  assert.equal(new CanonicalShape({}, new Set()).encode({}), '{}');
  const onlyVarying = new CanonicalShape({ b: 1, a: 2 }, new Set(['a', 'b']));
  assert.equal(onlyVarying.encode({ a: 'x', b: [2, 1] }), '{"a":"x","b":[2,1]}');
});
