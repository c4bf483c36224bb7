import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSweep } from '../../src/sweep/index.js';

test('a 100,000-task grid (5 axes) expands; time printed, not asserted', () => {
  const text = `name: big
fixed: {engine: reference, model: mlp, dataset: mnist, n_train: 1000, steps: 100}
grid:
  lr: {log: {from: 0.01, to: 10, num: 10}}
  batch_size: {linear: {from: 1, to: 1000, num: 10}}
  momentum: {linear: {from: 0, to: 0.9, num: 10}}
  l2: {log: {from: 0.0001, to: 1, num: 10}}
repeats: 10
`;
  const cpu = process.cpuUsage();
  const start = performance.now();
  const s = parseSweep(text, 'big.yaml', { defaultEngine: 'reference' });
  const wall = performance.now() - start;
  const used = process.cpuUsage(cpu);
  console.log(
    `# expanded ${s.tasks.length} tasks in ${wall.toFixed(0)} ms wall, ${((used.user + used.system) / 1000).toFixed(0)} ms cpu`,
  );
  assert.equal(s.tasks.length, 100_000);
  assert.equal(new Set(s.tasks.map((t) => t.key)).size, 100_000);
  assert.deepEqual(s.varying, ['batch_size', 'lr', 'momentum', 'l2', 'seed']);
});
