import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadSweep } from '../../src/sweep/index.js';
import { column, repoRoot } from './helpers.js';

const sweepsDir = join(repoRoot(), 'sweeps');

test('every file in sweeps/ loads', () => {
  const files = readdirSync(sweepsDir).filter((f) => /\.(ya?ml|json)$/.test(f));
  assert.ok(files.includes('quick.yaml') && files.includes('tiny.yaml'));
  for (const f of files) {
    const s = loadSweep(join(sweepsDir, f), { defaultEngine: 'reference' });
    assert.ok(s.tasks.length > 0, f);
    assert.equal(`${s.name}.yaml`, f, 'a sweep is named after its file');
  }
});

test('sweeps/tiny.yaml: 20 tiny tasks', () => {
  const s = loadSweep(join(sweepsDir, 'tiny.yaml'), { defaultEngine: 'reference' });
  assert.equal(s.tasks.length, 20);
  assert.deepEqual(s.varying, ['batch_size', 'lr', 'seed']);
  for (const t of s.tasks) {
    assert.equal(t.params.engine, 'reference');
    assert.ok(t.params.n_train <= 100 && t.params.steps <= 20 && t.params.hidden <= 16);
  }
});

test("sweeps/quick.yaml: the paper's MLP batch-size sweep", () => {
  const s = loadSweep(join(sweepsDir, 'quick.yaml'), { defaultEngine: 'native' });
  const p = s.tasks[0].params;
  assert.equal(p.engine, 'native');
  assert.equal(p.model, 'mlp');
  assert.equal(p.dataset, 'mnist');
  assert.equal(p.n_train, 1000);
  assert.equal(p.momentum, 0.9);
  assert.ok(p.eval_every > 0, 'curves are stored');
  const bs = [...new Set(column(s, 'batch_size').flat())] as number[];
  assert.ok(bs.length >= 6 && Math.min(...bs) === 1 && Math.max(...bs) >= 1000, `B grid ${bs}`);
  assert.ok(new Set(column(s, 'lr').flat()).size >= 2);
  assert.ok(new Set(column(s, 'seed').flat()).size >= 2);
});
