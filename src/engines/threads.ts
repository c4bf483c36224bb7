/**
 * Which tasks can use more than one thread. The native kernel splits the hidden units of the MLP's
 * first layer over threads for batches of at least its `threadMinBatch` examples (native/kernel.hpp);
 * smaller batches, the linear models and the other engines train on one thread whatever they are given.
 */
import type { TrainConfig } from './config.js';

/** Smallest effective batch the native kernel splits over threads (THREAD_MIN_B in native/kernel.hpp). */
export const NATIVE_THREAD_MIN_BATCH = 64;

/** Hidden units of one chunk of the kernel's first layer: the MLP needs more than one chunk to split. */
const NATIVE_CHUNK_UNITS = 80;

/** Whether extra threads make this task faster: the native MLP at a batch (and width) the kernel splits. */
export function canUseThreads(cfg: TrainConfig): boolean {
  return (
    cfg.engine === 'native' &&
    cfg.model === 'mlp' &&
    cfg.hidden > NATIVE_CHUNK_UNITS &&
    Math.min(cfg.batch_size, cfg.n_train) >= NATIVE_THREAD_MIN_BATCH
  );
}
