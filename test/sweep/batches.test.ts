import assert from 'node:assert/strict';
import { test } from 'node:test';
import { batchTexts, packTasks } from '../../src/sweep/batches.js';
import type { TaskRow } from '../../src/sweep/expand.js';

test('a packed batch gives back every key, JSON (any characters), engine and cost, in runs of any length', () => {
  const jsons = [
    '{"a":1}',
    '{"name":"é"}',
    '{"s":"\u{1F600} and π"}',
    '{}',
    '{"x":"\\"q\\""}',
    '{"long":"' + 'y'.repeat(600) + '"}',
  ];
  const tasks: TaskRow[] = jsons.map((json, i) => ({
    key: i.toString(16).repeat(64),
    paramsJson: json,
    engine: i % 2 ? 'native' : 'reference',
    cost: i + 0.5,
  }));
  // A batch of exactly these tasks reserves 256 bytes a task, less than the long JSON needs at most.
  const batch = packTasks(tasks[Symbol.iterator](), jsons.length)!;
  assert.equal(batch.count, jsons.length);
  for (let from = 0; from < batch.count; from++) {
    for (let to = from + 1; to <= batch.count; to++) {
      const { keys, params, charsBefore } = batchTexts(batch, from, to);
      for (let i = from; i < to; i++) {
        const start = (i === 0 ? 0 : batch.paramsChars[i - 1]!) - charsBefore;
        assert.equal(keys.slice((i - from) * 64, (i - from + 1) * 64), tasks[i]!.key);
        assert.equal(params.slice(start, batch.paramsChars[i]! - charsBefore), jsons[i]);
      }
    }
  }
  assert.deepEqual(
    [...batch.engineOf].map((e) => batch.engines[e]),
    tasks.map((t) => t.engine),
  );
  assert.deepEqual([...batch.costs], [0.5, 1.5, 2.5, 3.5, 4.5, 5.5]);
  const short = packTasks(tasks[Symbol.iterator](), 100)!;
  assert.deepEqual([short.count, short.costs.length, short.engineOf.length], [6, 6, 6], 'the last batch, short');
  assert.equal(batchTexts(short, 0, 6).params, jsons.join(''));
  assert.equal(packTasks([][Symbol.iterator](), 10), null, 'none left');
});
