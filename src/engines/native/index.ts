/**
 * The native engine: a C++ kernel (native/*.cc, Node-API addon built by `npm install` through
 * scripts/build-native.mjs) behind the same Kernel interface as the reference engine.
 *
 * The addon is optional. When it is not built (no compiler at install time, a CPU it was not built for,
 * BOPT_NO_NATIVE=1), loadNativeEngine() returns null and nativeUnavailableReason() says why; the
 * registry then falls back to another engine.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { packageRoot } from '../../paths.js';
import { ENGINE_VERSIONS } from '../versions.js';
import {
  parameterCount,
  type Dataset,
  type Evaluation,
  type Kernel,
  type KernelFactory,
  type KernelOptions,
  type ModelShape,
} from '../types.js';

/** The addon's object, as bound in native/addon.cc. */
export interface NativeKernelHandle {
  setParameters(p: Float32Array): void;
  getParameters(): Float32Array;
  step(batch: Int32Array): number;
  evaluate(x: Float32Array, y: Int32Array, n: number, d: number): [number, number];
  /** Debug/tests: gradient of mean CE + l2/2·|w|² on `batch` at the current parameters (shared layout). */
  gradient(batch: Int32Array): { loss: number; gradient: Float32Array };
  /** Debug/tests: batch-mean CE at the current parameters, no update. */
  loss(batch: Int32Array): number;
  parameterCount(): number;
  /**
   * Threads (this one included) that a batch of at least `threadMinBatch` examples and the evaluation
   * may use; any time between calls. The numbers do not depend on it.
   */
  setThreads(n: number): void;
  threads(): number;
  /**
   * Tests and benches: vectors of the hot loops, one of the addon's `vectorWidths` (16: AVX-512, 8: AVX2,
   * 0: portable loops). The numbers do not depend on it. Absent in addons built before it existed.
   */
  setVectorWidth?(width: number): void;
  vectorWidth?(): number;
  dispose(): void;
}

export interface NativeAddon {
  NativeKernel: new (options: {
    model: string;
    inputs: number;
    hidden: number;
    classes: number;
    x: Float32Array;
    y: Int32Array;
    n: number;
    d: number;
    lr: number;
    momentum: number;
    l2: number;
    l2OnBias: boolean;
  }) => NativeKernelHandle;
  abiVersion: number;
  isa: string;
  /** Vector widths this CPU runs, widest (the default) first; absent in addons built before it existed. */
  vectorWidths?: number[];
  /** Smallest batch that several threads split (smaller batches always train on one). */
  threadMinBatch: number;
  /**
   * Bytes of the back-propagated error per tile of examples of the batch-blocked weight gradient, chosen
   * from this CPU's L1 size (the numbers do not depend on it).
   */
  bwdTileBytes: number;
  /**
   * This core's measured single-precision FMA throughput (a register-only loop, half of ~`seconds`), and
   * that of the sparse kernels' loop shape: each FMA's operand loaded from a row picked by a loaded index,
   * in L1.
   */
  fmaPeak(seconds: number): { gflops: number; isa: string; gatherGflops: number };
}

/** The addon interface this code is written against (native/addon.cc exports the same number). */
export const NATIVE_ABI_VERSION = 3;

export const ADDON_RELATIVE_PATH = join('build', 'Release', 'bopt_native.node');
/** Written by scripts/build-native.mjs when the build fails: the reason, one line. */
export const BUILD_FAILURE_FILE = join('build', 'native-build-failed.txt');

let loaded: { addon: NativeAddon | null; reason: string | null } | undefined;

/** Load the addon once per thread. */
export function loadNativeAddon(): NativeAddon | null {
  if (loaded) return loaded.addon;
  if (process.env.BOPT_NO_NATIVE === '1') {
    loaded = { addon: null, reason: 'the native engine is disabled by BOPT_NO_NATIVE=1' };
    return null;
  }
  let root: string;
  try {
    root = packageRoot();
  } catch (e) {
    loaded = { addon: null, reason: (e as Error).message };
    return null;
  }
  const file = join(root, ADDON_RELATIVE_PATH);
  if (!existsSync(file)) {
    let why = 'it was not built';
    const failed = join(root, BUILD_FAILURE_FILE);
    if (existsSync(failed)) why = 'its build failed: ' + readFileSync(failed, 'utf8').trim().split('\n')[0];
    loaded = {
      addon: null,
      reason: `the native engine is not available (${file} is missing: ${why}); rebuild it with "node scripts/build-native.mjs"`,
    };
    return null;
  }
  try {
    const addon = createRequire(import.meta.url)(file) as NativeAddon;
    if (addon.abiVersion !== NATIVE_ABI_VERSION || typeof addon.NativeKernel !== 'function') {
      throw new Error(
        `unexpected addon interface (abiVersion ${String(addon.abiVersion)}, this code needs ${NATIVE_ABI_VERSION}): rebuild it`,
      );
    }
    loaded = { addon, reason: null };
  } catch (e) {
    loaded = {
      addon: null,
      reason: `the native engine failed to load from ${file}: ${(e as Error).message.split('\n')[0]}`,
    };
  }
  return loaded.addon;
}

/** Why the native engine is unavailable, or null when it loads. */
export function nativeUnavailableReason(): string | null {
  loadNativeAddon();
  return loaded?.reason ?? null;
}

class NativeKernel implements Kernel {
  constructor(
    private readonly shape: ModelShape,
    private handle: NativeKernelHandle | null,
  ) {}

  private h(): NativeKernelHandle {
    if (!this.handle) throw new Error('native kernel used after dispose()');
    return this.handle;
  }

  setParameters(params: Float32Array): void {
    this.h().setParameters(params);
  }

  getParameters(): Float32Array {
    return this.h().getParameters();
  }

  step(batch: Int32Array): number {
    return this.h().step(batch);
  }

  setThreads(n: number): void {
    const h = this.h();
    // An addon built before threads existed (not rebuilt since) trains on one thread: same numbers.
    if (typeof h.setThreads === 'function') h.setThreads(n);
  }

  evaluate(data: Dataset): Evaluation {
    if (data.d !== this.shape.inputs) throw new Error(`dataset has ${data.d} inputs, the model ${this.shape.inputs}`);
    if (data.n === 0) return { loss: NaN, accuracy: NaN };
    const [loss, accuracy] = this.h().evaluate(data.x, data.y, data.n, data.d);
    return { loss, accuracy };
  }

  /** Tests: the addon object itself (gradient(), loss()). */
  get native(): NativeKernelHandle {
    return this.h();
  }

  dispose(): void {
    this.handle?.dispose();
    this.handle = null;
  }
}

/** Create a native kernel directly (tests, benchmarks); throws when the addon is unavailable. */
export function createNativeKernel(
  addon: NativeAddon,
  shape: ModelShape,
  train: Dataset,
  options: KernelOptions,
): Kernel & { native: NativeKernelHandle } {
  if (train.d !== shape.inputs) throw new Error(`training data has ${train.d} inputs, the model ${shape.inputs}`);
  const handle = new addon.NativeKernel({
    model: shape.model,
    inputs: shape.inputs,
    hidden: shape.model === 'mlp' ? shape.hidden : 0,
    classes: shape.classes,
    x: train.x,
    y: train.y,
    n: train.n,
    d: train.d,
    lr: options.lr,
    momentum: options.momentum,
    l2: options.l2,
    // As the reference engine: the L2 prior is on every parameter, biases included.
    l2OnBias: true,
  });
  if (handle.parameterCount() !== parameterCount(shape)) throw new Error('native kernel: parameter count mismatch');
  return new NativeKernel(shape, handle);
}

/** The native engine's factory, or null (see nativeUnavailableReason()) when the addon is not available. */
export function loadNativeEngine(): KernelFactory | null {
  const addon = loadNativeAddon();
  if (!addon) return null;
  return {
    name: 'native',
    version: ENGINE_VERSIONS.native,
    backend: `cpp-${addon.isa}`,
    createKernel(shape: ModelShape, train: Dataset, options: KernelOptions): Kernel {
      return createNativeKernel(addon, shape, train, options);
    },
  };
}
