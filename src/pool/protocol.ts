/**
 * What crosses the boundary between the coordinator and whatever trains a task: a local Piscina
 * pool (src/pool) or BullMQ jobs for worker processes (src/queue). Plain serialisable data only.
 */
import type { TrainConfig } from '../engines/config.js';
import type { TrainResult } from '../engines/types.js';

export interface TrainJob {
  key: string;
  params: TrainConfig;
  /** Failed attempts before this one (0 on the first try). */
  attempt: number;
}

export interface JobProgress {
  key: string;
  step: number;
  totalSteps: number;
  loss: number;
}

export interface JobOutcome {
  result: TrainResult;
  /** Who trained it, e.g. "host:pid/thread-3". */
  worker: string;
}

export interface RunJobOptions {
  signal: AbortSignal;
  onProgress: (p: JobProgress) => void;
  /**
   * Only for a runner with `sharesCores`: element 0 is the number of threads the job may use, which the
   * coordinator changes while it runs (a SharedArrayBuffer the training thread reads between steps).
   */
  threads?: Int32Array;
}

/** Trains jobs somewhere; the coordinator never knows where. */
export interface TaskRunner {
  /** How many jobs it trains at once: the coordinator keeps this many in flight. */
  readonly slots: number;
  /** How many workers train its jobs where that is not `slots` (a queue: the live workers it found). */
  readonly workers?: number;
  /** Human-readable description for headers and logs. */
  readonly description: string;
  /**
   * True when its jobs run on this machine's cores and can use more than one thread (the `threads` of
   * RunJobOptions): the coordinator lends the cores of idle slots to running jobs.
   */
  readonly sharesCores?: boolean;
  run(job: TrainJob, options: RunJobOptions): Promise<JobOutcome>;
  close(): Promise<void>;
}
