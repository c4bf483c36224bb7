import type { SearchSettings } from '../search/policy.js';
import type { EngineName, TrainConfig } from '../engines/config.js';

/** One point of an expanded grid: its identity, complete canonical parameters and relative cost. */
export interface ExpandedTask {
  /** sha256 (hex) of the canonical JSON of `params` plus the engine version tag. */
  key: string;
  params: TrainConfig;
  /** Canonical JSON of `params`, where the expansion has it already (stored in tasks.params). */
  paramsJson?: string;
  cost: number;
}

/** The task of a sweep that trains the most examples (steps × the effective batch min(B, N)). */
export interface LongestTask {
  steps: number;
  batch: number;
  examples: number;
}

/** A sweep file, validated and expanded. */
export interface LoadedSweep {
  name: string;
  /** Absolute path of the file it came from. */
  file: string;
  /** The file's text as read (stored with the sweep for provenance). */
  specText: string;
  /** sha256 of the normalised spec. */
  specHash: string;
  description?: string;
  /**
   * Deterministic order: the same file always expands to the same list. A sweep read from a file
   * builds this list only when it is read (search, plan); a run streams `stream()` instead.
   */
  readonly tasks: ExpandedTask[];
  /**
   * The tasks one at a time in the same order, duplicates of an earlier key included (the store keeps
   * the first), without holding the list: how a grid of millions of tasks is stored. Absent for a
   * hand-made list of tasks, where `tasks` is the truth (see sweepTasks).
   */
  stream?(): Iterable<ExpandedTask>;
  /**
   * The tasks of stream(), in the same order, as batches expanded in a worker thread (for a large
   * grid: the expansion runs on another core while the batches before are stored). Absent or
   * undefined where the sweep cannot (a list of tasks, a grid whose list is built already).
   */
  batches?(options?: WorkerBatchOptions): TaskBatches | undefined;
  /** Points of the product before deduplication, where known without expanding. */
  readonly size?: number;
  /** The engines the tasks use, where known without expanding (see sweepEngines). */
  readonly engines?: readonly EngineName[];
  /** The task that trains the most examples, where known without expanding (a grid finds it when checked). */
  readonly longestTask?: LongestTask | null;
  /** Parameters that take more than one value across the tasks (in TrainConfig order). */
  readonly varying?: string[];
  /**
   * An adaptive B_opt search: `tasks` then holds every task the search may propose (the batch-size
   * lattice times peak_seeds seeds in every group); src/search picks the ones to train round by round.
   */
  search?: SearchSettings & { prior: boolean };
  /** Points of the product dropped because an earlier point had the same key. */
  readonly duplicates?: number;
}

/**
 * Consecutive tasks of a grid in a compact form that crosses threads without a copy (buffers and
 * typed arrays, transferred; no object per task): task i's key is bytes 64 i to 64 i + 64 of `keys`
 * (hex), its canonical JSON the UTF-8 bytes of `params` from paramsBytes[i - 1] (0 for the first) to
 * paramsBytes[i], its engine engines[engineOf[i]] and its cost costs[i]; batchTexts (./batches.ts)
 * decodes the texts of a run of tasks. Duplicates of an earlier key are included, as in a stream.
 */
export interface TaskBatch {
  count: number;
  keys: Uint8Array<ArrayBuffer>;
  params: Uint8Array<ArrayBuffer>;
  /** End of each task's JSON in `params`, in bytes. */
  paramsBytes: Uint32Array<ArrayBuffer>;
  /** End of each task's JSON in the decoded text of `params`, in characters (UTF-16 code units). */
  paramsChars: Uint32Array<ArrayBuffer>;
  engines: EngineName[];
  engineOf: Uint8Array<ArrayBuffer>;
  costs: Float64Array<ArrayBuffer>;
}

/** Where a grid's batches start and how large they are (see LoadedSweep.batches). */
export interface WorkerBatchOptions {
  /** Tasks per batch (default TASK_BATCH of ./batches.ts). */
  batchSize?: number;
  /** The first point the worker expands (default 0): the caller has the ones before. */
  from?: number;
}

/** Batches of a grid's tasks in grid order; close() stops the producer (always call it). */
export interface TaskBatches {
  /** The next batch, or null after the last one. */
  next(): Promise<TaskBatch | null>;
  close(): Promise<void>;
}

/** A sweep's text as parseSweep read it: enough for another thread to build the same spec. */
export interface GridSource {
  text: string;
  /** Absolute path (its extension picks JSON or YAML). */
  file: string;
  /** The name shown in messages. */
  shown: string;
}
