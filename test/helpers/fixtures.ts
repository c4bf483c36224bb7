import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseTrainConfig, type TrainConfigInput } from '../../src/engines/config.js';
import { stream } from '../../src/engines/rng.js';
import type { Dataset, TrainResult } from '../../src/engines/types.js';
import { estimateCost } from '../../src/sweep/cost.js';
import type { LoadedSweep } from '../../src/sweep/types.js';

/** A temporary folder removed by the returned cleanup. */
export function tempDir(prefix = 'bopt-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A hand-built sweep (independent of the spec module) of tiny softmax tasks, one per seed. */
export function tinySweep(name: string, seeds: number[], overrides: Partial<TrainConfigInput> = {}): LoadedSweep {
  const tasks = seeds.map((seed) => {
    const params = parseTrainConfig({
      engine: 'reference',
      model: 'softmax',
      dataset: 'mnist',
      n_train: 50,
      n_test: 100,
      batch_size: 10,
      lr: 0.1,
      steps: 5,
      seed,
      ...overrides,
    });
    const key = createHash('sha256').update(JSON.stringify(params)).digest('hex');
    return { key, params, cost: estimateCost(params) };
  });
  return { name, file: `${name}.yaml`, specText: `name: ${name}`, specHash: name, tasks };
}

export function fakeResult(overrides: Partial<TrainResult> = {}): TrainResult {
  return {
    engine: 'reference',
    engineVersion: 'reference-1',
    backend: 'typescript',
    stepsDone: 5,
    trainAccuracy: 0.5,
    trainLoss: 1.2,
    testAccuracy: 0.4,
    testLoss: 1.3,
    diverged: false,
    wallMs: 12,
    curve: [
      { step: 0, trainLoss: 2.3, testLoss: 2.3, testAccuracy: 0.1 },
      { step: 5, trainLoss: 1.2, testLoss: 1.3, testAccuracy: 0.4 },
    ],
    ...overrides,
  };
}

/** The `fixed:` block of the small reference-engine MLP tasks the end-to-end tests train. */
export const SMALL_MLP_FIXED = `fixed:
  engine: reference
  model: mlp
  hidden: 32
  dataset: mnist
  n_train: 200
  n_test: 200
  steps: 150
`;

/**
 * A sweep of 12 × `repeats` small MLP tasks (0.1–0.7 s each on the reference engine): long enough
 * for a kill or an interrupt to land while tasks are running.
 */
export function killableSweepYaml(name: string, repeats = 1): string {
  return `name: ${name}
${SMALL_MLP_FIXED}grid:
  lr: [0.05, 0.1, 0.2]
  batch_size: [8, 16, 32, 64]
repeats: ${repeats}
`;
}

/**
 * A small dataset for kernel tests: ~30 % exact zeros (like MNIST's blank pixels, to exercise the
 * rows a kernel skips), the rest drawn from `draw`, and labels in [0, max(classes, 2)).
 */
export function toyDataset(
  n: number,
  d: number,
  classes: number,
  seed = 1,
  draw: 'normal' | 'uniform' = 'normal',
): Dataset {
  const rng = stream(seed, 'toy');
  const x = new Float32Array(n * d);
  for (let i = 0; i < x.length; i++)
    x[i] = rng.uniform() < 0.3 ? 0 : Math.fround(draw === 'normal' ? rng.normal() : rng.uniform());
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) y[i] = rng.int(Math.max(classes, 2));
  return { x, y, n, d, classes: Math.max(classes, 2) };
}
