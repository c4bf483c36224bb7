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
}

/** Trains jobs somewhere; the coordinator never knows where. */
export interface TaskRunner {
  /** How many jobs it trains at once: the coordinator keeps this many in flight. */
  readonly slots: number;
  /** How many workers train its jobs where that is not `slots` (a queue: the live workers it found). */
  readonly workers?: number;
  /** Human-readable description for headers and logs. */
  readonly description: string;
  run(job: TrainJob, options: RunJobOptions): Promise<JobOutcome>;
  close(): Promise<void>;
}
