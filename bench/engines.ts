/**
 * Engine benchmark: microseconds per training example (forward, backward, update; only kernel.step()
 * is timed, batches come from the driver) for every available engine, with the PyTorch peer
 * (../shared/bench/torch_ref.py) measured in the same run when PyTorch is installed.
 *
 *  - MLP 784-800-10 on MNIST, N = 1000, eps = 0.01, momentum 0.9, B = 1, 10, 100, 1000
 *  - softmax regression (784-10, MNIST, the peer's --hidden 0) and logistic regression (784-1, MNIST
 *    0 vs 1), same protocol
 *  - evaluation of the 10,000 test images (MLP 784-800-10)
 *  - two tasks on two worker threads against one: throughput ratio (native engine, MLP, B = 100)
 * Each timing is the best of `repeats` runs (other processes share the machine).
 *
 * Standalone:  node --import tsx bench/engines.ts [--quick] [--engines native,reference] [--seconds 1]
 *              [--repeats 3] [--no-torch] [--no-workers]      (or node dist/bench/engines.js ...)
 * From bench/run.ts:  const rows = await runEngineBench({ ... })
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { parseTrainConfig, type ModelName } from '../src/engines/config.js';
import { mnistFolder } from '../src/engines/data/index.js';
import { batchSequence, prepareTraining, type PreparedTraining } from '../src/engines/driver.js';
import { loadNativeAddon, loadNativeEngine, nativeUnavailableReason } from '../src/engines/native/index.js';
import { packageRoot } from '../src/paths.js';
import { referenceEngine } from '../src/engines/reference/index.js';
import type { KernelFactory } from '../src/engines/types.js';

export interface EngineBenchOptions {
  /** Engines to measure (default: every available one: native, tfjs, reference). */
  engines?: string[];
  batches?: number[];
  /** Timing budget per point, seconds (default 1; the reference engine stops after one step at most when slow). */
  seconds?: number;
  /** Best of this many repeats (default 3). */
  repeats?: number;
  /** Measure PyTorch too when it is installed (default true). */
  torch?: boolean;
  /** Python interpreter for the peer (default /usr/bin/python3, or $BOPT_PYTHON). */
  python?: string;
  /** Path of torch_ref.py (default $BOPT_TORCH_REF or ../shared/bench/torch_ref.py from the package root). */
  torchScript?: string;
  /** Measure two tasks on two workers against one (default true). */
  workers?: boolean;
  log?: (line: string) => void;
}

export interface EngineBenchRow {
  /** 'native', 'reference', 'torch-1.13.0' ... */
  engine: string;
  /** 'mlp' | 'softmax' | 'logreg' | 'eval-mlp' | 'two-workers' */
  bench: string;
  batch?: number;
  /** Microseconds per training example (train rows). */
  usPerExample?: number;
  /** Seconds (eval rows). */
  seconds?: number;
  /** Throughput of two tasks on two workers over one task on one (two-workers row). */
  speedup?: number;
  /** Useful FLOPs of the sparse work per second, GFLOP/s (native train rows). */
  gflops?: number;
  /** gflops as a percentage of the measured single-core FMA peak (native train rows). */
  peakPercent?: number;
  /**
   * gflops as a percentage of the measured ceiling of the sparse loop shape (native train rows): the rate
   * of FMAs that each load their operand from an indexed row in L1, as the kernels' inner loops do.
   */
  loopPercent?: number;
  /** The sparse loop shape's measured ceiling, GFLOP/s (cpu row). */
  loopGflops?: number;
  /** CPU model (cpu row); with the FMA peak in gflops and its vector unit in note. */
  cpu?: string;
  /** PyTorch's µs per example over this engine's, same bench and batch, same run (>1: faster than PyTorch). */
  vsTorch?: number;
  note?: string;
}

const MODELS: Array<{ bench: ModelName; dataset: 'mnist' | 'mnist01'; hidden: number }> = [
  { bench: 'mlp', dataset: 'mnist', hidden: 800 },
  { bench: 'softmax', dataset: 'mnist', hidden: 800 },
  { bench: 'logreg', dataset: 'mnist01', hidden: 800 },
];
const LR = 0.01;
const MOMENTUM = 0.9;
const N = 1000;

function prepare(model: ModelName, dataset: 'mnist' | 'mnist01', hidden: number, nTest = 10000): PreparedTraining {
  return prepareTraining(
    parseTrainConfig({
      engine: 'reference',
      model,
      dataset,
      hidden,
      n_train: N,
      n_test: nTest,
      batch_size: 1,
      lr: LR,
      momentum: MOMENTUM,
      steps: 0,
      seed: 0,
    }),
  );
}

/**
 * Useful FLOPs of one training example: the first layer touches only the example's nonzero inputs
 * (forward and weight gradient, 2 FLOPs per multiply-add each), the dense MLP output layer costs its
 * forward, weight gradient and back-propagation to the hidden layer.
 */
function flopsPerExample(prep: PreparedTraining): number {
  const { x, n } = prep.train;
  let nonzero = 0;
  for (let i = 0; i < x.length; i++) if (x[i] !== 0) nonzero++;
  const perExample = nonzero / n;
  const { model, hidden, classes } = prep.shape;
  const firstWidth = model === 'mlp' ? hidden : model === 'softmax' ? classes : 1;
  return 4 * perExample * firstWidth + (model === 'mlp' ? 6 * hidden * classes : 0);
}

/**
 * µs per example of kernel.step() at batch size B. The machine is shared (other tasks, other
 * processes): the time is measured in short windows of consecutive steps (~20 ms, at least one step)
 * and the best window of `repeats` runs of ~`seconds` each is kept.
 */
function timeSteps(
  factory: KernelFactory,
  prep: PreparedTraining,
  B: number,
  seconds: number,
  repeats: number,
): number {
  let best = Infinity;
  for (let r = 0; r < repeats; r++) {
    const kernel = factory.createKernel(prep.shape, prep.train, { lr: LR, momentum: MOMENTUM, l2: 0 });
    kernel.setParameters(prep.initialParams);
    const it = batchSequence(r, prep.train.n, B);
    kernel.step(it.next().value); // warm-up
    // pre-drawn batches: only the kernel is timed
    const batches: Int32Array[] = Array.from({ length: 256 }, () => it.next().value);
    let steps = 0;
    const t0 = performance.now();
    let total = 0;
    do {
      let n = 0;
      const t = performance.now();
      let now: number;
      do {
        kernel.step(batches[(steps + n) % batches.length]);
        n++;
        now = performance.now();
      } while (now - t < 20);
      steps += n;
      total += now - t;
      best = Math.min(best, ((now - t) * 1000) / (n * B));
    } while (performance.now() - t0 < seconds * 1000);
    kernel.dispose?.();
    if (total > seconds * 3000) break; // a very slow engine: one run is enough
  }
  return best;
}

function timeEval(factory: KernelFactory, prep: PreparedTraining, repeats: number): number {
  const kernel = factory.createKernel(prep.shape, prep.train, { lr: LR, momentum: MOMENTUM, l2: 0 });
  kernel.setParameters(prep.initialParams);
  kernel.step(batchSequence(0, prep.train.n, 10).next().value); // some pending lazy updates, as in training
  let best = Infinity;
  for (let r = 0; r < repeats; r++) {
    const t = performance.now();
    kernel.evaluate(prep.test);
    best = Math.min(best, (performance.now() - t) / 1000);
    if (best > 10) break;
  }
  kernel.dispose?.();
  return best;
}

export interface TorchRow {
  engine: string;
  batch: number;
  us_per_example: number;
}

/**
 * Runs the peer's script and reports, after it, the cores it used ((user + system) / wall time). The
 * script's --threads only sets PyTorch's own pool; Debian's OpenBLAS (libopenblas0-pthread) starts a
 * thread per core for every matrix product unless told otherwise, which made a "one-thread" peer use
 * both cores of this machine (B = 1000: 27 µs/example on two cores, 42 µs on one).
 */
const TORCH_PRELUDE = [
  'import json, resource, runpy, sys, time',
  'r0 = resource.getrusage(resource.RUSAGE_SELF)',
  't = time.perf_counter()',
  'script = sys.argv[1]',
  'sys.argv = sys.argv[1:]',
  "runpy.run_path(script, run_name='__main__')",
  'u = resource.getrusage(resource.RUSAGE_SELF)',
  'cpu = u.ru_utime + u.ru_stime - r0.ru_utime - r0.ru_stime',
  "print(json.dumps({'cores': cpu / (time.perf_counter() - t)}))",
].join('\n');

/** Threads of the peer: one, as each task of a sweep gets one core. */
const PEER_THREADS = 1;
/** The variables that hold PyTorch's BLAS and OpenMP pools to a thread count. */
const POOL_VARIABLES = ['OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS'] as const;

/** The environment that holds every BLAS and OpenMP pool of the peer to `threads` threads. */
export function torchEnvironment(threads: number, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const n = String(threads);
  return { ...base, ...Object.fromEntries(POOL_VARIABLES.map((v) => [v, n])) };
}

export interface TorchPeerResult {
  rows: TorchRow[];
  /** The most cores one run of the peer used: about 1 when it is single-threaded as meant. */
  cores: number;
}

/** The PyTorch peer's µs/example per batch size (best of the repeats), or why it could not run. */
export function runTorchPeer(
  opts: Pick<EngineBenchOptions, 'python' | 'torchScript' | 'seconds' | 'repeats'>,
  hidden: number,
  batches: number[],
  log: (l: string) => void,
): TorchPeerResult | string {
  const python = opts.python ?? process.env.BOPT_PYTHON ?? '/usr/bin/python3';
  const script =
    opts.torchScript ?? process.env.BOPT_TORCH_REF ?? resolve(packageRoot(), '..', 'shared', 'bench', 'torch_ref.py');
  if (!existsSync(script)) return `torch_ref.py not found at ${script} (set BOPT_TORCH_REF)`;
  if (!existsSync(python)) return `${python} not found`;
  const probe = spawnSync(python, ['-c', 'import torch'], { encoding: 'utf8' });
  if (probe.status !== 0) return 'PyTorch is not installed (apt-get install -y python3-torch libopenblas0-pthread)';
  const args = [
    script,
    '--data',
    mnistFolder(),
    '--batch',
    batches.join(','),
    '--hidden',
    String(hidden),
    '--n',
    String(N),
    '--lr',
    String(LR),
    '--momentum',
    String(MOMENTUM),
    '--seconds',
    String(opts.seconds ?? 1),
    '--threads',
    String(PEER_THREADS),
  ];
  const env = torchEnvironment(PEER_THREADS);
  log(`  torch: ${POOL_VARIABLES.map((v) => `${v}=${env[v]}`).join(' ')} ${python} ${args.join(' ')}`);
  const best = new Map<number, TorchRow>();
  let cores = 0;
  for (let r = 0; r < (opts.repeats ?? 3); r++) {
    const run = spawnSync(python, ['-c', TORCH_PRELUDE, ...args], {
      encoding: 'utf8',
      timeout: 600_000,
      env,
    });
    if (run.status !== 0) return `torch_ref.py failed: ${(run.stderr || run.stdout).trim().split('\n').pop()}`;
    for (const line of run.stdout.split('\n')) {
      if (!line.startsWith('{')) continue;
      const parsed = JSON.parse(line) as Partial<TorchRow> & { cores?: number };
      if (parsed.cores !== undefined) {
        cores = Math.max(cores, parsed.cores);
        continue;
      }
      const row = parsed as TorchRow;
      const prev = best.get(row.batch);
      if (!prev || row.us_per_example < prev.us_per_example) best.set(row.batch, row);
    }
  }
  return { rows: [...best.values()], cores };
}

/** Throughput of two native MLP tasks on two worker threads, relative to one task on one worker. */
async function twoWorkers(log: (l: string) => void): Promise<number | string> {
  const here = fileURLToPath(import.meta.url);
  const ts = here.endsWith('.ts');
  const workerFile = join(dirname(here), ts ? 'engines-worker.ts' : 'engines-worker.js');
  if (!existsSync(workerFile)) return `${workerFile} missing`;
  // Under tsx (bench run from source) the worker registers tsx's loader itself, then imports the .ts file.
  const tsxApi = ts ? import.meta.resolve('tsx/esm/api') : '';
  const loader =
    `import { register } from ${JSON.stringify(tsxApi)}; register(); ` +
    `await import(${JSON.stringify(pathToFileURL(workerFile).href)});`;
  const entry = ts ? new URL(`data:text/javascript,${encodeURIComponent(loader)}`) : pathToFileURL(workerFile);
  const runWorkers = async (count: number): Promise<number> => {
    const ready: Promise<void>[] = [];
    const workers = Array.from({ length: count }, () => {
      const w = new Worker(entry, { workerData: { steps: 300, batch: 100 } });
      ready.push(
        new Promise((res, rej) => {
          w.once('message', (m: unknown) => (m === 'ready' ? res() : rej(new Error(String(m)))));
          w.once('error', rej);
        }),
      );
      return w;
    });
    await Promise.all(ready); // data loaded, kernel created: time the training only
    const t0 = performance.now();
    await Promise.all(
      workers.map(
        (w) =>
          new Promise<void>((res, rej) => {
            w.once('message', () => res());
            w.once('error', rej);
            w.postMessage('go');
          }),
      ),
    );
    const ms = performance.now() - t0;
    await Promise.all(workers.map((w) => w.terminate()));
    return ms;
  };
  let best1 = Infinity;
  let best2 = Infinity;
  for (let r = 0; r < 3; r++) {
    best1 = Math.min(best1, await runWorkers(1));
    best2 = Math.min(best2, await runWorkers(2));
  }
  log(`  two workers: one task ${best1.toFixed(0)} ms, two tasks ${best2.toFixed(0)} ms`);
  return (2 * best1) / best2;
}

export async function runEngineBench(options: EngineBenchOptions = {}): Promise<EngineBenchRow[]> {
  const log = options.log ?? ((l: string) => console.log(l));
  const batches = options.batches ?? [1, 10, 100, 1000];
  const seconds = options.seconds ?? 1;
  const repeats = options.repeats ?? 3;
  const factories: KernelFactory[] = [];
  const wanted = options.engines ?? ['native', 'tfjs', 'reference'];
  const rows: EngineBenchRow[] = [];
  for (const name of wanted) {
    if (name === 'native') {
      const f = loadNativeEngine();
      if (f) factories.push(f);
      else rows.push({ engine: 'native', bench: '-', note: nativeUnavailableReason() ?? 'unavailable' });
    } else if (name === 'reference') {
      factories.push(referenceEngine);
    } else {
      try {
        const { loadEngine } = (await import('../src/engines/registry.js')) as {
          loadEngine: (n: string) => Promise<KernelFactory>;
        };
        factories.push(await loadEngine(name));
      } catch (e) {
        rows.push({ engine: name, bench: '-', note: (e as Error).message.split('\n')[0] });
      }
    }
  }
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  const addon = factories.some((f) => f.name === 'native') ? loadNativeAddon() : null;
  const peak = addon ? addon.fmaPeak(0.5) : undefined;
  rows.push({
    engine: 'cpu',
    bench: 'cpu',
    cpu,
    gflops: peak?.gflops,
    loopGflops: peak?.gatherGflops,
    note: peak?.isa,
  });
  // the widest vectors the native kernel's hot loops use here (its default)
  const width = addon?.vectorWidths?.[0];
  const loops =
    width === undefined ? '' : width === 0 ? '; native loops: portable' : `; native loops: ${width}-float vectors`;
  log(
    `  CPU: ${cpu}` +
      (peak
        ? `; measured FMA peak of one core: ${peak.gflops.toFixed(1)} GFLOP/s (${peak.isa}), ` +
          `sparse loop shape ${peak.gatherGflops.toFixed(1)} GFLOP/s`
        : '') +
      loops,
  );
  const torch = new Map<string, Map<number, number>>();
  for (const m of MODELS) {
    const prep = prepare(m.bench, m.dataset, m.hidden);
    const flops = flopsPerExample(prep);
    for (const f of factories) {
      for (const B of batches) {
        // the reference engine is ~1000x slower at B = 1000 on the MLP: shorter budget
        const us = timeSteps(f, prep, B, seconds, repeats);
        const row: EngineBenchRow = { engine: f.name, bench: m.bench, batch: B, usPerExample: us };
        let rate = '';
        if (f.name === 'native' && peak) {
          row.gflops = flops / us / 1e3;
          row.peakPercent = (100 * row.gflops) / peak.gflops;
          row.loopPercent = (100 * row.gflops) / peak.gatherGflops;
          rate =
            `  ${row.gflops.toFixed(1)} GFLOP/s, ${row.peakPercent.toFixed(0)} % of peak, ` +
            `${row.loopPercent.toFixed(0)} % of the sparse loop's ceiling`;
        }
        rows.push(row);
        log(`  ${f.name.padEnd(10)} ${m.bench.padEnd(8)} B=${String(B).padEnd(5)} ${us.toFixed(2)} µs/example${rate}`);
      }
    }
    if (options.torch !== false && m.bench !== 'logreg') {
      const t = runTorchPeer(options, m.bench === 'mlp' ? m.hidden : 0, batches, log);
      if (typeof t === 'string') {
        if (!rows.some((r) => r.bench === 'torch')) rows.push({ engine: 'torch', bench: 'torch', note: t });
        log(`  torch: ${t}`);
      } else {
        const by = new Map<number, number>();
        const many = t.cores > 1.2 ? ' (more than one core: the ratios below flatter it)' : '';
        log(`  torch used ${t.cores.toFixed(2)} cores${many}`);
        rows.push({
          engine: t.rows[0]?.engine ?? 'torch',
          bench: 'torch-cores',
          note: `${m.bench}: one-thread peer, used ${t.cores.toFixed(2)} cores${many}`,
        });
        for (const r of t.rows) {
          by.set(r.batch, r.us_per_example);
          rows.push({ engine: r.engine, bench: m.bench, batch: r.batch, usPerExample: r.us_per_example });
          log(
            `  ${r.engine.padEnd(10)} ${m.bench.padEnd(8)} B=${String(r.batch).padEnd(5)} ${r.us_per_example.toFixed(2)} µs/example`,
          );
        }
        torch.set(m.bench, by);
      }
    }
  }
  for (const r of rows) {
    const t = r.batch !== undefined ? torch.get(r.bench)?.get(r.batch) : undefined;
    if (t !== undefined && r.usPerExample !== undefined && !r.engine.startsWith('torch'))
      r.vsTorch = t / r.usPerExample;
  }
  const evalPrep = prepare('mlp', 'mnist', 800);
  for (const f of factories) {
    const s = timeEval(f, evalPrep, repeats);
    rows.push({ engine: f.name, bench: 'eval-mlp', seconds: s });
    log(`  ${f.name.padEnd(10)} evaluate 10,000 test images (MLP 784-800-10): ${s.toFixed(3)} s`);
  }
  if (options.workers !== false && factories.some((f) => f.name === 'native')) {
    const s = await twoWorkers(log);
    rows.push(
      typeof s === 'number'
        ? { engine: 'native', bench: 'two-workers', batch: 100, speedup: s }
        : { engine: 'native', bench: 'two-workers', note: s },
    );
  }
  return rows;
}

/** The rows as a Markdown table (README). */
export function formatEngineBench(rows: EngineBenchRow[]): string {
  const batches = [
    ...new Set(rows.filter((r) => r.batch !== undefined && r.usPerExample !== undefined).map((r) => r.batch as number)),
  ].sort((a, b) => a - b);
  const out: string[] = [];
  out.push(`| engine | model | ${batches.map((b) => `B=${b}`).join(' | ')} |`);
  out.push(`|---|---|${batches.map(() => '---:').join('|')}|`);
  const keys = [...new Set(rows.filter((r) => r.usPerExample !== undefined).map((r) => `${r.engine}\u0000${r.bench}`))];
  for (const k of keys) {
    const [engine, bench] = k.split('\u0000');
    const cells = batches.map((b) => {
      const r = rows.find((x) => x.engine === engine && x.bench === bench && x.batch === b);
      if (!r || r.usPerExample === undefined) return '';
      const v =
        r.usPerExample < 10
          ? r.usPerExample.toFixed(2)
          : r.usPerExample < 100
            ? r.usPerExample.toFixed(1)
            : r.usPerExample.toFixed(0);
      const vs = r.vsTorch !== undefined ? ` (${r.vsTorch.toFixed(1)}x)` : '';
      const ofLoop = r.loopPercent !== undefined ? ` / ${r.loopPercent.toFixed(0)} %` : '';
      const ofPeak = r.peakPercent !== undefined ? ` [${r.peakPercent.toFixed(0)} %${ofLoop}]` : '';
      return v + vs + ofPeak;
    });
    out.push(`| ${engine} | ${bench} | ${cells.join(' | ')} |`);
  }
  out.push('');
  out.push(
    "µs per training example; (Nx) = PyTorch time / this engine's time, same run; [P % / L %] = useful FLOPs " +
      'of the sparse work per second as a share of the measured single-core FMA peak / of the measured ceiling ' +
      "of the sparse loop shape (FMAs that load their operand from an indexed row in L1, as the kernels' inner " +
      'loops do).',
  );
  for (const r of rows) {
    if (r.bench === 'cpu') {
      const loop = r.loopGflops !== undefined ? `, sparse loop shape ${r.loopGflops.toFixed(1)} GFLOP/s` : '';
      const peak =
        r.gflops !== undefined ? `; FMA peak of one core ${r.gflops.toFixed(1)} GFLOP/s (${r.note})${loop}` : '';
      out.push(`- CPU: ${r.cpu}${peak}`);
      continue;
    }
    if (r.bench === 'eval-mlp')
      out.push(`- ${r.engine}: evaluate the 10,000 test images (MLP 784-800-10): ${r.seconds?.toFixed(3)} s`);
    if (r.bench === 'two-workers')
      out.push(
        `- ${r.engine}: two tasks on two workers: ${r.speedup !== undefined ? r.speedup.toFixed(2) + 'x the throughput of one' : r.note}`,
      );
    if (r.note && r.bench !== 'two-workers') out.push(`- ${r.engine}: ${r.note}`);
  }
  return out.join('\n');
}

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const quick = process.argv.includes('--quick');
  const rows = await runEngineBench({
    engines: flag('engines')?.split(','),
    seconds: Number(flag('seconds') ?? (quick ? 0.3 : 1)),
    repeats: Number(flag('repeats') ?? (quick ? 1 : 3)),
    torch: !process.argv.includes('--no-torch'),
    workers: !process.argv.includes('--no-workers'),
  });
  console.log('\n' + formatEngineBench(rows));
}
