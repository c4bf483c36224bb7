import assert from 'node:assert/strict';
import { test } from 'node:test';
import { batchLattice } from '../../src/search/policy.js';
import { FILE, sweep, throwsBopt } from './helpers.js';

const BASE = `name: s
fixed:
  engine: reference
  model: mlp
  dataset: mnist
  n_train: 1000
  steps: 10
  lr: 1
`;
const fails = (text: string, ...fragments: string[]): string =>
  throwsBopt(() => sweep(text), `${FILE}: `, ...fragments);

test('a search section expands to every candidate: the lattice times peak_seeds in each group', () => {
  const s = sweep(`${BASE}grid:\n  momentum: [0, 0.9]\nsearch:\n  from: 1\n  to: 100\n  peak_seeds: 3\n`);
  const lattice = batchLattice({ from: 1, to: 100, resolution: 1.25 });
  assert.equal(s.tasks.length, 2 * lattice.length * 3);
  assert.deepEqual(s.search, {
    from: 1,
    to: 100,
    resolution: 1.25,
    coarse: 6,
    seeds: 2,
    peakSeeds: 3,
    noiseZ: 1,
    maxTasks: 60,
    prior: true,
  });
  assert.deepEqual([...new Set(s.tasks.map((t) => t.params.batch_size))], lattice);
});

test('search section errors name the field', () => {
  fails(`${BASE}grid:\n  batch_size: [1, 2]\nsearch: {from: 1, to: 10}\n`, 'grid.batch_size', 'chosen by the search');
  fails(`${BASE}repeats: 2\nsearch: {from: 1, to: 10}\n`, 'repeats', 'chosen by the search');
  fails(`${BASE}search: {from: 10, to: 10}\n`, 'search.to', 'expected a number > from');
  fails(`${BASE}search: {from: 1, to: 10, resolution: 1}\n`, 'search.resolution', 'factor > 1');
  fails(`${BASE}search: {from: 1, to: 10, seeds: 3, peak_seeds: 2}\n`, 'search.peak_seeds');
  fails(`${BASE}search: {from: 1, to: 10, wat: 1}\n`, 'search');
  fails(`${BASE}search: {from: 0, to: 10}\n`, 'search.from', 'positive integer');
});
