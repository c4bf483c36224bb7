/**
 * Speed of the tfjs engine on the benchmark protocol (for the engine benchmark, `npm run bench`):
 * µs per training example (forward, backward, update; only kernel.step() is timed, batches from the
 * shared driver) for the MLP 784-800-10 on MNIST and for logistic regression on MNIST 0-vs-1, both
 * N = 1000, lr 0.01, momentum 0.9, at B = 1, 10, 100, 1000; and the time of one evaluate() of the
 * test set (the 10,000 test images for the MLP, the 2,115 0/1 test images for logreg).
 *
 * `measureKernelSpeed` takes any KernelFactory, so the same numbers can be had for every engine.
 *
 *   node --import tsx src/engines/tfjs/bench.ts [--seconds 2] [--batch 1,10,100,1000] [--model mlp,logreg]
 */
import { pathToFileURL } from 'node:url';
import { parseTrainConfig } from '../config.js';
import { prepareTraining } from '../driver.js';
import type { KernelFactory } from '../types.js';
import { loadTfjsEngine } from './index.js';

export interface SpeedRow {
  engine: string;
  engineVersion: string;
  backend: string;
  model: 'mlp' | 'logreg';
  dataset: 'mnist' | 'mnist01';
  hidden: number;
  n: number;
  lr: number;
  momentum: number;
  batch: number;
  steps: number;
  usPerExample: number;
  /** One evaluate() of the test set, milliseconds. */
  evalMs: number;
  evalExamples: number;
}

export interface SpeedOptions {
  model: 'mlp' | 'logreg';
  batch: number;
  /** Minimum seconds of timed steps (at least 3 steps are timed). */
  seconds?: number;
  hidden?: number;
  /** Also time one evaluation of the test set (default true). */
  evaluate?: boolean;
}

export function measureKernelSpeed(factory: KernelFactory, o: SpeedOptions): SpeedRow {
  const hidden = o.model === 'mlp' ? (o.hidden ?? 800) : 0;
  const dataset = o.model === 'mlp' ? 'mnist' : 'mnist01';
  const cfg = parseTrainConfig({
    engine: factory.name,
    model: o.model,
    dataset,
    hidden: o.model === 'mlp' ? hidden : undefined,
    n_train: 1000,
    n_test: 10000,
    batch_size: o.batch,
    lr: 0.01,
    momentum: 0.9,
    steps: 0,
    seed: 0,
  });
  const prep = prepareTraining(cfg);
  const kernel = factory.createKernel(prep.shape, prep.train, { lr: cfg.lr, momentum: cfg.momentum, l2: cfg.l2 });
  try {
    kernel.setParameters(prep.initialParams);
    const it = prep.batchSequence();
    for (let i = 0; i < 3; i++) kernel.step(it.next().value); // warm-up (first-use allocations, JIT)
    const budget = (o.seconds ?? 2) * 1000;
    let steps = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < budget || steps < 3) {
      kernel.step(it.next().value);
      steps++;
    }
    const dt = performance.now() - t0;
    let evalMs = NaN;
    if (o.evaluate ?? true) {
      kernel.evaluate(prep.test); // warm-up
      const e0 = performance.now();
      kernel.evaluate(prep.test);
      evalMs = performance.now() - e0;
    }
    return {
      engine: factory.name,
      engineVersion: factory.version,
      backend: factory.backend,
      model: o.model,
      dataset,
      hidden,
      n: prep.train.n,
      lr: cfg.lr,
      momentum: cfg.momentum,
      batch: prep.batchSize,
      steps,
      usPerExample: Math.round(((dt * 1000) / (steps * prep.batchSize)) * 100) / 100,
      evalMs: Math.round(evalMs * 10) / 10,
      evalExamples: prep.test.n,
    };
  } finally {
    kernel.dispose?.();
  }
}

/** The tfjs rows of the engine benchmark: each model × batch size. */
export async function tfjsBenchRows(
  opts: { seconds?: number; batches?: number[]; models?: Array<'mlp' | 'logreg'>; hidden?: number } = {},
): Promise<SpeedRow[]> {
  const factory = await loadTfjsEngine();
  const rows: SpeedRow[] = [];
  for (const model of opts.models ?? ['mlp', 'logreg']) {
    (opts.batches ?? [1, 10, 100, 1000]).forEach((batch, i) => {
      // The evaluation does not depend on B: time it once per model.
      rows.push(
        measureKernelSpeed(factory, { model, batch, seconds: opts.seconds, hidden: opts.hidden, evaluate: i === 0 }),
      );
    });
  }
  return rows;
}

/** One row (the name the engine benchmark asked for). */
export async function tfjsBenchRow(o: SpeedOptions): Promise<SpeedRow> {
  return measureKernelSpeed(await loadTfjsEngine(), o);
}

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const rows = await tfjsBenchRows({
    seconds: Number(arg('seconds', '2')),
    batches: arg('batch', '1,10,100,1000').split(',').map(Number),
    models: arg('model', 'mlp,logreg').split(',') as Array<'mlp' | 'logreg'>,
    hidden: Number(arg('hidden', '800')),
  });
  for (const r of rows) console.log(JSON.stringify(r));
}
