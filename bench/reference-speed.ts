/**
 * Speed of the reference engine on the paper's MLP protocol (784-800-10, N = 1000, m = 0.9, lr 1):
 * microseconds per training example (forward, backward, update) at several batch sizes, the same
 * measure as ../../shared/bench/torch_ref.py. Only kernel.step() is timed; batches come from the driver.
 *
 *   node --import tsx bench/reference-speed.ts [--batch 1,10,100,1000] [--seconds 2] [--hidden 800]
 */
import { parseTrainConfig } from '../src/engines/config.js';
import { prepareTraining } from '../src/engines/driver.js';
import { referenceEngine } from '../src/engines/reference/index.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

const batches = arg('batch', '1,10,100,1000').split(',').map(Number);
const seconds = Number(arg('seconds', '2'));
const hidden = Number(arg('hidden', '800'));

for (const B of batches) {
  const cfg = parseTrainConfig({
    engine: 'reference',
    model: 'mlp',
    dataset: 'mnist',
    hidden,
    n_train: 1000,
    n_test: 100,
    batch_size: B,
    lr: 1,
    momentum: 0.9,
    steps: 0,
    seed: 0,
  });
  const prep = prepareTraining(cfg);
  const kernel = referenceEngine.createKernel(prep.shape, prep.train, {
    lr: cfg.lr,
    momentum: cfg.momentum,
    l2: cfg.l2,
  });
  kernel.setParameters(prep.initialParams);
  const it = prep.batchSequence();
  kernel.step(it.next().value); // warm-up
  let steps = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < seconds * 1000 || steps < 2) {
    kernel.step(it.next().value);
    steps++;
  }
  const dt = performance.now() - t0;
  console.log(
    JSON.stringify({
      engine: referenceEngine.version,
      hidden,
      n: 1000,
      lr: 1,
      momentum: 0.9,
      batch: B,
      steps,
      us_per_example: Math.round(((dt * 1000) / (steps * prep.batchSize)) * 100) / 100,
    }),
  );
}
