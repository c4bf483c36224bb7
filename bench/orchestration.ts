/**
 * Orchestration benchmarks: trivial tasks through the real coordinator, Piscina pool and
 * SQLite; expansion + insert of a 100,000-task grid; and the speed-up of 2 workers over 1 on real
 * training tasks. Run: npm run bench (or node dist/bench/orchestration.js [--quick]).
 */
import { join } from 'node:path';
import { defaultEngine } from '../src/engines/registry.js';
import { PiscinaRunner } from '../src/pool/piscina-runner.js';
import { Coordinator } from '../src/scheduler/coordinator.js';
import { parseSweep } from '../src/sweep/index.js';
import { SweepStore } from '../src/storage/store.js';
import { tempDir } from '../test/helpers/fixtures.js';

export interface OrchestrationBench {
  trivialTasks: number;
  trivialTasksPerSecond: number;
  gridTasks: number;
  expandSeconds: number;
  insertSeconds: number;
  trainingTasks: number;
  trainingEngine: string;
  oneWorkerSeconds: number;
  twoWorkerSeconds: number;
  speedup: number;
}

async function runSweep(dbPath: string, sweepText: string, runner: PiscinaRunner): Promise<number> {
  const store = SweepStore.open(dbPath);
  try {
    const sweep = parseSweep(sweepText, 'bench.yaml');
    const coordinator = new Coordinator({ store, sweep, runner, codeVersion: 'bench' });
    const t0 = performance.now();
    const summary = await coordinator.run();
    const seconds = (performance.now() - t0) / 1000;
    if (summary.counts.done !== sweep.tasks.length)
      throw new Error(`bench sweep incomplete: ${JSON.stringify(summary.counts)}`);
    return seconds;
  } finally {
    await runner.close();
    store.close();
  }
}

export async function runOrchestrationBench(options: { quick?: boolean } = {}): Promise<OrchestrationBench> {
  const { dir, cleanup } = tempDir('bopt-bench-');
  try {
    // 1. Trivial tasks: a worker that returns at once, so only pool + coordinator + SQLite are timed.
    const trivialSide = options.quick ? 50 : 100;
    const trivialText = `name: trivial
fixed: {engine: reference, model: softmax, dataset: mnist, n_train: 100, steps: 1}
grid:
  lr: {log: {from: 0.001, to: 1, num: ${trivialSide}}}
  batch_size: {linear: {from: 1, to: ${2 * trivialSide}, num: ${2 * trivialSide}}}
`;
    const noop = new URL('./noop-worker.js', import.meta.url).href;
    const trivialTasks = 2 * trivialSide * trivialSide;
    const trivialSeconds = await runSweep(
      join(dir, 'trivial.sqlite'),
      trivialText,
      new PiscinaRunner({ workers: 2, filename: noop }),
    );

    // 2. A 100,000-task grid: validated when read (every point checked), then expanded into the database.
    const gridText = `name: grid100k
fixed: {engine: reference, model: mlp, dataset: mnist, n_train: 1000, momentum: 0.9}
grid:
  lr: {log: {from: 0.01, to: 10, num: 10}}
  batch_size: {linear: {from: 1, to: 1000, num: 100}}
  steps: [1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000, 10000]
repeats: 10
`;
    const t0 = performance.now();
    const grid = parseSweep(gridText, 'grid100k.yaml');
    const expandSeconds = (performance.now() - t0) / 1000;
    const store = SweepStore.open(join(dir, 'grid.sqlite'));
    const t1 = performance.now();
    store.registerSweep(grid, 'bench');
    const insertSeconds = (performance.now() - t1) / 1000;
    store.close();

    // 3. Real training tasks on 1 and 2 workers (the default engine: native where built).
    const engine = defaultEngine();
    const trainingTasks = 8;
    // Tasks of ~1.5 s with the native engine: long enough that pool start-up and the per-thread MNIST load
    // (paid once per worker) do not dominate, as in a real sweep.
    const steps = options.quick ? 30 : engine === 'native' ? 3000 : 100;
    const trainText = (name: string) => `name: ${name}
fixed: {engine: ${engine}, model: mlp, dataset: mnist, n_train: 1000, n_test: 1000, momentum: 0.9, lr: 0.1, batch_size: 32, steps: ${steps}}
repeats: ${trainingTasks}
`;
    const oneWorkerSeconds = await runSweep(
      join(dir, 'one.sqlite'),
      trainText('one'),
      new PiscinaRunner({ workers: 1 }),
    );
    const twoWorkerSeconds = await runSweep(
      join(dir, 'two.sqlite'),
      trainText('two'),
      new PiscinaRunner({ workers: 2 }),
    );

    return {
      trivialTasks,
      trivialTasksPerSecond: trivialTasks / trivialSeconds,
      gridTasks: grid.tasks.length,
      expandSeconds,
      insertSeconds,
      trainingTasks,
      trainingEngine: engine,
      oneWorkerSeconds,
      twoWorkerSeconds,
      speedup: oneWorkerSeconds / twoWorkerSeconds,
    };
  } finally {
    cleanup();
  }
}

export function formatOrchestrationBench(b: OrchestrationBench): string {
  const f = (x: number, d = 2) => x.toFixed(d);
  return [
    'orchestration (2 cores):',
    `  trivial tasks through pool + coordinator + SQLite: ${b.trivialTasks} tasks, ` +
      `${f(b.trivialTasksPerSecond, 0)} tasks/s (target >= 2000)`,
    `  ${b.gridTasks}-task grid: validate ${f(b.expandSeconds)} s + expand and store ${f(b.insertSeconds)} s = ` +
      `${f(b.expandSeconds + b.insertSeconds)} s (target < 3 s)`,
    `  ${b.trainingTasks} training tasks (${b.trainingEngine}): 1 worker ${f(b.oneWorkerSeconds)} s, ` +
      `2 workers ${f(b.twoWorkerSeconds)} s, speed-up ${f(b.speedup)}x (target >= 1.85x)`,
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const quick = process.argv.includes('--quick');
  const b = await runOrchestrationBench({ quick });
  if (process.argv.includes('--json')) console.log(JSON.stringify(b));
  else console.log(formatOrchestrationBench(b));
}
