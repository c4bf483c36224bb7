/**
 * The tfjs engine: the models written with TensorFlow.js (kernel.ts), on tfjs-node where it loads,
 * else the wasm backend, else the plain cpu backend (backend.ts). The backend that ran is the
 * factory's `backend` ("tfjs-node" / "tfjs-wasm" / "tfjs-cpu"), recorded with every result.
 * An independent check of the other engines: same driver, same initial weights, same batches.
 */
import { ENGINE_VERSIONS } from '../versions.js';
import type { Dataset, Kernel, KernelFactory, KernelOptions, ModelShape } from '../types.js';
import { loadTf } from './backend.js';
import { TfjsKernel } from './kernel.js';

export type { TfjsBackendName } from './backend.js';
export { TfjsKernel } from './kernel.js';

export interface TfjsKernelFactory extends KernelFactory {
  /** Why faster backends were not used, one line each (empty on tfjs-node). */
  readonly notes: readonly string[];
}

let factory: Promise<TfjsKernelFactory> | undefined;

/** The tfjs engine of this thread (loaded once). Rejects when TensorFlow.js cannot be loaded at all. */
export function loadTfjsEngine(): Promise<TfjsKernelFactory> {
  if (!factory) {
    factory = loadTf().then(({ tf, backend, notes }) => ({
      name: 'tfjs' as const,
      version: ENGINE_VERSIONS.tfjs,
      backend,
      notes,
      createKernel(shape: ModelShape, train: Dataset, options: KernelOptions): Kernel {
        return new TfjsKernel(tf, shape, train, options, { explicitTranspose: backend === 'tfjs-wasm' });
      },
    }));
    factory.catch(() => {
      factory = undefined;
    });
  }
  return factory;
}
