/**
 * The native engine (C++ addon) against finite differences and against the reference engine.
 *
 *  - gradients: the addon's debug gradient() against central finite differences of its own loss(),
 *    along random directions and on the largest coordinates, for every model, with and without L2;
 *  - equivalence: from the same initial weights and the same batches (driver.prepareTraining), native
 *    and reference agree on the loss of every step and on the weights (relative error ≤ 1e-4) over 200
 *    steps, for B ∈ {1, 7, 64, 1000}, momentum 0 and 0.9, L2 0 and > 0, logreg, softmax and the MLP;
 *    the lazy momentum/L2 across the periodic flush (1024 steps) is covered by a longer run;
 *  - determinism: same task, same engine → bit-identical losses and weights.
 * Skipped (with the reason) when the addon is not built.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseTrainConfig, type TrainConfigInput } from '../../src/engines/config.js';
import { batchSequence, prepareTraining, train, type PreparedTraining } from '../../src/engines/driver.js';
import {
  createNativeKernel,
  loadNativeAddon,
  loadNativeEngine,
  nativeUnavailableReason,
  NATIVE_ABI_VERSION,
  type NativeAddon,
} from '../../src/engines/native/index.js';
import { packageRoot } from '../../src/paths.js';
import { referenceEngine } from '../../src/engines/reference/index.js';
import { NATIVE_THREAD_MIN_BATCH } from '../../src/engines/threads.js';
import type { Kernel } from '../../src/engines/types.js';

const addon = loadNativeAddon();
// Skipped only on a machine without a compiler; CI builds the addon, so there a missing addon fails loudly.
const skip = addon || process.env.CI ? false : `native addon unavailable: ${nativeUnavailableReason()}`;

const SEED = 3;
/**
 * The reference engine needs ~25 s per (m, l2) pair at B = 1000 for softmax and the MLP: by default
 * those two run only the hardest pair (momentum and L2: the lazy closed form) at B = 1000; set
 * BOPT_NATIVE_TEST_FULL=1 for the whole grid (all of it passes; see the README).
 */
const FULL = process.env.BOPT_NATIVE_TEST_FULL === '1';
const prepared = new Map<string, PreparedTraining>();
function prepare(input: Partial<TrainConfigInput>): PreparedTraining {
  const cfg = parseTrainConfig({
    engine: 'native',
    model: 'mlp',
    dataset: 'mnist',
    n_train: 1000,
    batch_size: 1,
    lr: 0.1,
    steps: 200,
    seed: SEED,
    ...input,
  });
  // data and initial weights do not depend on batch size, lr, momentum, l2
  const key = JSON.stringify([cfg.model, cfg.dataset, cfg.hidden, cfg.n_train, cfg.seed, cfg.features]);
  let p = prepared.get(key);
  if (!p) {
    p = prepareTraining(cfg);
    prepared.set(key, p);
  }
  return p;
}

function relErr(a: Float32Array, b: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] - b[i];
    num += d * d;
    den += b[i] * b[i];
  }
  return Math.sqrt(num / den);
}

function nativeKernel(
  p: PreparedTraining,
  lr: number,
  momentum: number,
  l2: number,
): Kernel & { native: ReturnType<typeof createNativeKernel>['native'] } {
  const k = createNativeKernel(addon as NativeAddon, p.shape, p.train, { lr, momentum, l2 });
  k.setParameters(p.initialParams);
  return k;
}

describe('native engine: gradients against finite differences', { skip }, () => {
  const cases: Array<[string, Partial<TrainConfigInput>]> = [
    ['logreg', { model: 'logreg', dataset: 'mnist01', n_train: 200 }],
    ['logreg synthetic', { model: 'logreg', dataset: 'synthetic', n_train: 200, features: 50 }],
    ['softmax', { model: 'softmax', dataset: 'mnist', n_train: 200 }],
    ['mlp', { model: 'mlp', dataset: 'mnist', n_train: 200, hidden: 37 }],
  ];
  for (const [name, input] of cases) {
    for (const l2 of [0, 0.1]) {
      it(`${name}, l2 = ${l2}`, () => {
        const p = prepare(input);
        const k = nativeKernel(p, 0.1, 0, l2);
        const batch = Int32Array.from([0, 5, 9, 17, 33, 101, 150]);
        const w0 = Float64Array.from(p.initialParams);
        const { gradient } = k.native.gradient(batch);
        const objective = (w: Float64Array): number => {
          k.setParameters(Float32Array.from(w));
          let sq = 0;
          for (let i = 0; i < w.length; i++) sq += w[i] * w[i];
          return k.native.loss(batch) + (l2 / 2) * sq;
        };
        // directional derivatives along random directions (deterministic)
        let s = 12345;
        const rand = (): number => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 4294967296) * 2 - 1;
        // directions: the gradient plus as much random noise (a pure random direction has a tiny
        // directional derivative, lost in the float32 rounding of the loss)
        let rms = 0;
        for (let i = 0; i < gradient.length; i++) rms += gradient[i] * gradient[i];
        rms = Math.sqrt(rms / gradient.length);
        for (let trial = 0; trial < 3; trial++) {
          const dir = Float64Array.from(gradient, (g) => g + rms * rand());
          let gd = 0;
          let norm = 0;
          for (let i = 0; i < dir.length; i++) {
            gd += gradient[i] * dir[i];
            norm += dir[i] * dir[i];
          }
          const h = 1e-5 / Math.sqrt(norm / dir.length);
          const plus = objective(w0.map((w, i) => w + h * dir[i]));
          const minus = objective(w0.map((w, i) => w - h * dir[i]));
          const fd = (plus - minus) / (2 * h);
          assert.ok(Math.abs(fd - gd) <= 1e-2 * Math.abs(gd), `${name}: directional FD ${fd} vs gradient ${gd}`);
        }
        // the largest coordinates, one at a time
        const order = Array.from(gradient.keys()).sort((a, b) => Math.abs(gradient[b]) - Math.abs(gradient[a]));
        for (const i of order.slice(0, 6)) {
          const h = 1e-2;
          const wp = Float64Array.from(w0);
          wp[i] += h;
          const wm = Float64Array.from(w0);
          wm[i] -= h;
          const fd = (objective(wp) - objective(wm)) / (2 * h);
          assert.ok(
            Math.abs(fd - gradient[i]) <= 3e-2 * Math.abs(gradient[i]) + 2e-4,
            `${name}: coordinate ${i}: FD ${fd} vs ${gradient[i]}`,
          );
        }
        k.dispose?.();
      });
    }
  }
});

interface EqCase {
  label: string;
  input: Partial<TrainConfigInput>;
}

// Hidden width 20 for the full grid (the reference is slow at B = 1000; 20 also exercises the padding
// of the hidden layer to a multiple of 8); the paper's width 800 is checked once below.
const EQ_CASES: EqCase[] = [
  { label: 'logreg mnist01', input: { model: 'logreg', dataset: 'mnist01' } },
  { label: 'softmax', input: { model: 'softmax', dataset: 'mnist' } },
  { label: 'mlp 784-20-10', input: { model: 'mlp', dataset: 'mnist', hidden: 20 } },
];
/**
 * Learning rate: the same effective step lr/(1-m) = 0.1 with and without momentum. Much larger steps
 * at B = 1 (e.g. lr = 0.1 with m = 0.9) make SGD chaotic: there any two float32 implementations, the
 * reference included, drift apart from a float64 run by more than 1e-4 within 200 steps.
 */
const lrFor = (momentum: number): number => 0.1 * (1 - momentum);

/** Run both kernels in lockstep; returns the worst relative errors seen. */
function compare(p: PreparedTraining, lr: number, momentum: number, l2: number, steps: number, batchSize: number) {
  const ref = referenceEngine.createKernel(p.shape, p.train, { lr, momentum, l2 });
  ref.setParameters(p.initialParams);
  const nat = nativeKernel(p, lr, momentum, l2);
  const gen = prepareBatches(p, batchSize);
  let lossErr = 0;
  let weightErr = 0;
  for (let s = 1; s <= steps; s++) {
    const batch = gen.next().value;
    const lr_ = ref.step(batch);
    const ln = nat.step(batch);
    assert.ok(Number.isFinite(lr_), `reference diverged at step ${s}`);
    lossErr = Math.max(lossErr, Math.abs(ln - lr_) / Math.max(Math.abs(lr_), 1e-3));
    if (s % 50 === 0) weightErr = Math.max(weightErr, relErr(nat.getParameters(), ref.getParameters()));
  }
  const eNat = nat.evaluate(p.test);
  const eRef = ref.evaluate(p.test);
  nat.dispose?.();
  return {
    lossErr,
    weightErr,
    evalErr: Math.abs(eNat.loss - eRef.loss) / eRef.loss,
    accDiff: Math.abs(eNat.accuracy - eRef.accuracy),
  };
}

/** The driver's batch order for this batch size (the sequence depends only on seed, n and B). */
function prepareBatches(p: PreparedTraining, batchSize: number): Generator<Int32Array, never, void> {
  return batchSequence(SEED, p.train.n, batchSize);
}

describe('native engine: same as the reference over 200 steps (rel. error ≤ 1e-4)', { skip }, () => {
  for (const c of EQ_CASES) {
    for (const B of [1, 7, 64, 1000]) {
      it(`${c.label}, B = ${B}, m ∈ {0, 0.9}, l2 ∈ {0, 0.01}${B === 1000 && c.input.model !== 'logreg' && !FULL ? ' (m = 0.9, l2 = 0.01 only; BOPT_NATIVE_TEST_FULL=1 for all)' : ''}`, () => {
        const p = prepare(c.input);
        for (const momentum of [0, 0.9]) {
          for (const l2 of [0, 0.01]) {
            if (B === 1000 && c.input.model !== 'logreg' && !FULL && !(momentum > 0 && l2 > 0)) continue;
            const r = compare(p, lrFor(momentum), momentum, l2, 200, B);
            const what = `${c.label} B=${B} m=${momentum} l2=${l2}: loss ${r.lossErr.toExponential(2)}, weights ${r.weightErr.toExponential(2)}`;
            if (process.env.BOPT_NATIVE_TEST_VERBOSE) console.log(what);
            assert.ok(r.lossErr <= 1e-4, what);
            assert.ok(r.weightErr <= 1e-4, what);
            assert.ok(r.evalErr <= 1e-4, `${what}: test loss ${r.evalErr}`);
            assert.ok(r.accDiff <= 2e-4, `${what}: test accuracy differs by ${r.accDiff}`);
          }
        }
      });
    }
  }

  it("mlp 784-800-10 (the paper's model), B = 1 and 7, m = 0.9, l2 = 0.01", () => {
    const p = prepare({ model: 'mlp', dataset: 'mnist', hidden: 800 });
    for (const B of [1, 7]) {
      const r = compare(p, lrFor(0.9), 0.9, 0.01, 200, B);
      assert.ok(r.lossErr <= 1e-4 && r.weightErr <= 1e-4, `B=${B}: loss ${r.lossErr}, weights ${r.weightErr}`);
    }
  });
  it('mlp 784-800-10, B = 1000, m = 0, l2 = 0 (20 steps)', () => {
    const p = prepare({ model: 'mlp', dataset: 'mnist', hidden: 800 });
    const r = compare(p, 0.1, 0, 0, 20, 1000);
    assert.ok(r.lossErr <= 1e-4 && r.weightErr <= 1e-4, `loss ${r.lossErr}, weights ${r.weightErr}`);
  });

  // From B = 32 on (B = 2 with 16-float loops), the first layer runs batch-blocked: tiles of W1 rows
  // (32 KiB of the widest output chunk) with every example's partial sums kept between tiles. Hidden 90 (padded to 96: two chunks of
  // 48 outputs, 170-row tiles) and 20 (one chunk, 341-row tiles): 784 rows end in a partial tile; B = 33
  // and 45 are no multiple of anything; the 2,000-image test evaluation ends in a partial block of 256.
  it('batch-blocked first layer: tile and block edges (hidden 20 and 90, softmax; B = 33, 45; m = 0.9, l2 = 0.01)', () => {
    const inputs: Array<Partial<TrainConfigInput>> = [
      { model: 'mlp', dataset: 'mnist', hidden: 90 },
      { model: 'mlp', dataset: 'mnist', hidden: 20 },
      { model: 'softmax', dataset: 'mnist' },
    ];
    for (const input of inputs) {
      const p = prepare(input);
      for (const B of [33, 45]) {
        const r = compare(p, lrFor(0.9), 0.9, 0.01, 60, B);
        const what = `${input.model} ${input.hidden ?? ''} B=${B}: loss ${r.lossErr}, weights ${r.weightErr}, test loss ${r.evalErr}`;
        assert.ok(r.lossErr <= 1e-4 && r.weightErr <= 1e-4 && r.evalErr <= 1e-4 && r.accDiff <= 2e-4, what);
      }
    }
  });

  // From B = 64 on, the weight gradient runs batch-blocked too: tiles of examples (bwdTileBytes of E per
  // output chunk, from the CPU's L1 size: 16 KiB for a 32 KiB L1) with the touched rows' partial sums kept
  // between tiles. The batches are chosen from the tile this CPU gets: one full and one partial tile, and
  // two full tiles and a partial one (a middle tile, which rows without entries there skip). Hidden 90
  // (padded to 96: two chunks of 6 vectors) and softmax (10 outputs, padded to 16: one chunk of 2).
  it('batch-blocked weight gradient: tile edges (hidden 90 and softmax, a partial and a middle tile; m = 0.9, l2 = 0.01)', () => {
    const tileBytes = (addon as NativeAddon).bwdTileBytes;
    assert.ok(tileBytes >= 8192 && tileBytes <= 65536, `bwdTileBytes ${tileBytes}`);
    /** Examples per tile for `outputs` outputs: the widest chunk of at most 10 vectors of 8 floats. */
    const tileOf = (outputs: number) => {
      const vectors = Math.ceil(outputs / 8);
      const widest = Math.ceil(vectors / Math.ceil(vectors / 10));
      return Math.max(8, Math.floor(tileBytes / (widest * 32)));
    };
    const cases: Array<[Partial<TrainConfigInput>, number]> = [
      [{ model: 'mlp', dataset: 'mnist', hidden: 90 }, tileOf(90)],
      [{ model: 'softmax', dataset: 'mnist' }, tileOf(10)],
    ];
    for (const [input, tile] of cases) {
      // enough images that the largest batch is not the whole training set
      const p = prepare({ ...input, n_train: Math.max(1000, 2 * tile + 100) });
      for (const B of [tile + Math.floor(tile / 2), 2 * tile + 15]) {
        const r = compare(p, lrFor(0.9), 0.9, 0.01, 40, B);
        const what = `${input.model} ${input.hidden ?? ''} B=${B} (tiles of ${tile}): loss ${r.lossErr}, weights ${r.weightErr}`;
        assert.ok(r.lossErr <= 1e-4 && r.weightErr <= 1e-4, what);
      }
    }
  });

  it('lazy momentum + L2 stays exact across the periodic flush (1,100 steps, logreg, B = 1)', () => {
    const input = { model: 'logreg', dataset: 'mnist01' } as const;
    const p = prepare(input);
    const r = compare(p, 0.01, 0.9, 0.05, 1100, 1);
    assert.ok(r.lossErr <= 1e-4 && r.weightErr <= 1e-4, `loss ${r.lossErr}, weights ${r.weightErr}`);
  });
});

describe('native engine: determinism and contract', { skip }, () => {
  it('same task, same engine → bit-identical losses and weights', () => {
    const p = prepare({ model: 'mlp', hidden: 64 });
    const run = (): { losses: number[]; w: Float32Array } => {
      const k = nativeKernel(p, 0.1, 0.9, 0.001);
      const gen = prepareBatches(p, 10);
      const losses: number[] = [];
      for (let s = 0; s < 300; s++) losses.push(k.step(gen.next().value));
      const w = k.getParameters();
      k.dispose?.();
      return { losses, w };
    };
    const a = run();
    const b = run();
    assert.deepEqual(a.losses, b.losses);
    assert.deepEqual(Buffer.from(a.w.buffer), Buffer.from(b.w.buffer));
  });

  it('getParameters/setParameters round-trip in the shared layout; bad input throws', () => {
    const p = prepare({ model: 'mlp', hidden: 13 });
    const k = nativeKernel(p, 0.1, 0.9, 0.01);
    assert.deepEqual(k.getParameters(), p.initialParams);
    assert.throws(() => k.setParameters(new Float32Array(3)), /expected/);
    assert.throws(() => k.step(Int32Array.from([p.train.n])), RangeError);
    assert.throws(() => k.step(new Int32Array(0)), /empty/);
    k.dispose?.();
    assert.throws(() => k.step(Int32Array.from([0])), /dispose/);
  });

  it('a diverging run shows up as a non-finite loss (NaN/inf are not hidden by ReLU or max)', () => {
    const p = prepare({ model: 'mlp', hidden: 32 });
    const k = nativeKernel(p, 0.1, 0.9, 0);
    const batch = Int32Array.from([0, 1, 2]);
    const w = Float32Array.from(p.initialParams);
    // a NaN in the first-layer row of a pixel that is on in example 0
    const x0 = p.train.x.subarray(0, 784);
    const pixel = x0.findIndex((v) => v > 0);
    w[pixel * 32 + 5] = NaN;
    k.setParameters(w);
    assert.ok(Number.isNaN(k.step(batch)));
    // overflowing logits
    k.setParameters(p.initialParams.map((v) => v * 3e38));
    assert.ok(!Number.isFinite(k.step(batch)));
    k.dispose?.();
  });

  it('fmaPeak measures a positive FMA rate, and that of the sparse loop shape, on the widest vector unit this CPU has; bad seconds throw', () => {
    const a = addon as NativeAddon;
    const peak = a.fmaPeak(0.05);
    assert.ok(Number.isFinite(peak.gflops) && peak.gflops > 0, `gflops ${peak.gflops}`);
    const loop = peak.gatherGflops;
    assert.ok(Number.isFinite(loop) && loop > 0, `gatherGflops ${loop}`);
    assert.ok(['avx512', 'avx2', 'generic'].includes(peak.isa), `isa ${peak.isa}`);
    assert.throws(() => a.fmaPeak(0), /seconds/);
    assert.throws(() => a.fmaPeak(Number.NaN), /seconds/);
  });
});

describe('native engine: several threads for one task', { skip }, () => {
  /**
   * The steps of one run with the thread count `threadsAt(step)` (set before each step; the test-set
   * evaluation uses the last count): every loss, the evaluation and the final parameters.
   */
  function runWith(p: PreparedTraining, B: number, m: number, l2: number, threadsAt: (step: number) => number) {
    const k = nativeKernel(p, 0.05, m, l2);
    const it = batchSequence(5, p.train.n, B);
    const losses: number[] = [];
    for (let s = 0; s < 12; s++) {
      k.native.setThreads(threadsAt(s));
      losses.push(k.step(it.next().value));
    }
    const test = k.evaluate(p.test);
    const params = k.getParameters();
    k.dispose?.();
    return { losses, test: [test.loss, test.accuracy], params: Buffer.from(params.buffer) };
  }

  it('bit-identical parameters, losses and evaluation with 1, 2 and 3 threads (B 16 to 300, m and l2 on and off)', () => {
    const p = prepare({ model: 'mlp', hidden: 800, n_test: 600 });
    // B = 16: below the batch-blocked forward pass and the split (one thread whatever it is given);
    // 100 and 300: both on. Counts also change in the middle of a run, as the coordinator changes them.
    const schedules: Array<[string, (s: number) => number]> = [
      ['2 threads', () => 2],
      ['3 threads', () => 3],
      ['1, 3, then 2 threads', (s) => (s < 4 ? 1 : s < 8 ? 3 : 2)],
    ];
    for (const B of [16, 100, 300])
      for (const [m, l2] of [
        [0, 0],
        [0.9, 0],
        [0, 0.01],
        [0.9, 0.01],
      ] as const) {
        const one = runWith(p, B, m, l2, () => 1);
        for (const [name, schedule] of schedules) {
          const other = runWith(p, B, m, l2, schedule);
          const where = `B = ${B}, m = ${m}, l2 = ${l2}, ${name}`;
          assert.deepEqual(other.losses, one.losses, `${where}: losses`);
          assert.deepEqual(other.test, one.test, `${where}: test loss and accuracy`);
          assert.ok(other.params.equals(one.params), `${where}: parameters differ`);
        }
      }
  });

  it('the driver applies the threads granted while training: the same result as on one thread', () => {
    const factory = loadNativeEngine()!;
    const cfg = parseTrainConfig({
      engine: 'native',
      model: 'mlp',
      dataset: 'mnist',
      n_train: 500,
      n_test: 500,
      batch_size: 128,
      lr: 0.1,
      momentum: 0.9,
      steps: 20,
      eval_every: 5,
      seed: SEED,
    });
    const granted: number[] = [];
    const alone = train(cfg, factory);
    const shared = train(cfg, factory, {
      threads: () => {
        granted.push(granted.length < 10 ? 1 : 2);
        return granted.at(-1)!;
      },
    });
    assert.ok(granted.length > 20, 'read before every step and evaluation');
    assert.deepEqual({ ...shared, wallMs: 0 }, { ...alone, wallMs: 0 });
  });

  it('setThreads refuses counts outside [1, 256]; the addon says from which batch it splits', () => {
    const p = prepare({ model: 'mlp', hidden: 100 });
    const k = nativeKernel(p, 0.1, 0, 0);
    for (const bad of [0, -1, 1.5, 257, Number.NaN]) assert.throws(() => k.native.setThreads(bad), /threads/);
    k.native.setThreads(4);
    assert.equal(k.native.threads(), 4);
    k.dispose?.();
    assert.equal((addon as NativeAddon).threadMinBatch, NATIVE_THREAD_MIN_BATCH);
  });
});

describe('native engine: AVX-512 and AVX2 loops give the same numbers', () => {
  const widths = addon?.vectorWidths ?? [];
  const why = skip || (widths.includes(16) && widths.includes(8) ? false : 'this CPU lacks AVX-512 or AVX2');

  /** Losses, evaluation and parameters of 10 steps with the hot loops in vectors of `width` floats. */
  function runWith(p: PreparedTraining, width: number, B: number, m: number, l2: number) {
    const k = nativeKernel(p, 0.05, m, l2);
    k.native.setVectorWidth!(width);
    assert.equal(k.native.vectorWidth!(), width);
    const it = batchSequence(7, p.train.n, B);
    const losses: number[] = [];
    for (let s = 0; s < 10; s++) losses.push(k.step(it.next().value));
    const grad = k.native.gradient(it.next().value);
    const test = k.evaluate(p.test);
    const params = k.getParameters();
    k.dispose?.();
    return {
      losses,
      test: [test.loss, test.accuracy],
      grad: Buffer.from(grad.gradient.buffer),
      params: Buffer.from(params.buffer),
    };
  }

  it(
    'bit-identical for chunks of 10, 7, 6, 5, 2 and 1 vectors, B 1 to 300 (tile edges; 33: an odd batch through the blocked forward pass), m and l2 on and off',
    { skip: why },
    () => {
      // hidden 800: chunks of 10 vectors (5 AVX-512 vectors); 100: 7 and 6 (an odd AVX2 vector at the end);
      // 37: 5; softmax: 2; logreg: 1 (the portable loop at both widths). B >= 64 runs the batch-blocked
      // passes, whose last tile of W1 rows (and of examples at B = 300) is partial.
      const models: Array<Partial<TrainConfigInput>> = [
        { model: 'mlp', hidden: 800 },
        { model: 'mlp', hidden: 100 },
        { model: 'mlp', hidden: 37 },
        { model: 'softmax' },
        { model: 'logreg', dataset: 'mnist01' },
      ];
      for (const model of models) {
        const p = prepare({ ...model, n_test: 500 });
        for (const B of [1, 10, 33, 64, 300])
          for (const [m, l2] of [
            [0, 0],
            [0.9, 0.01],
          ] as const) {
            const wide = runWith(p, 16, B, m, l2);
            const narrow = runWith(p, 8, B, m, l2);
            const where = `${JSON.stringify(model)}, B = ${B}, m = ${m}, l2 = ${l2}`;
            assert.deepEqual(wide.losses, narrow.losses, `${where}: losses`);
            assert.deepEqual(wide.test, narrow.test, `${where}: test loss and accuracy`);
            assert.ok(wide.grad.equals(narrow.grad), `${where}: gradients differ`);
            assert.ok(wide.params.equals(narrow.params), `${where}: parameters differ`);
          }
      }
    },
  );

  it('setVectorWidth refuses a width that is not 0, 8 or 16, or that this CPU lacks', { skip }, () => {
    const p = prepare({ model: 'mlp', hidden: 100 });
    const k = nativeKernel(p, 0.1, 0, 0);
    for (const bad of [4, 32, -8, Number.NaN]) assert.throws(() => k.native.setVectorWidth!(bad), /vector width/);
    for (const w of [0, 8, 16]) {
      if (widths.includes(w)) {
        k.native.setVectorWidth!(w);
        assert.equal(k.native.vectorWidth!(), w);
      } else assert.throws(() => k.native.setVectorWidth!(w), /vector width/);
    }
    k.dispose?.();
    assert.equal(widths[widths.length - 1], 0, 'the portable loops are always there');
  });
});

it('the built addon implements the interface version this code needs (a stale build is refused, not half-used)', (t) => {
  if (!addon) {
    t.skip('native addon not built');
    return;
  }
  assert.equal(addon.abiVersion, NATIVE_ABI_VERSION);
  const source = readFileSync(join(packageRoot(), 'native', 'addon.cc'), 'utf8');
  assert.match(source, new RegExp(`"abiVersion", Napi::Number::New\\(env, ${NATIVE_ABI_VERSION}\\)`));
});
