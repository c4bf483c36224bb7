/**
 * The event stream of a running sweep: what a UI, a log printer or a test subscribes to. Every event
 * is a plain serialisable object, so the same stream can be forwarded between processes.
 */
import type { TrainConfig } from '../engines/config.js';
import type { StateCounts } from '../storage/store.js';

/** One group of an adaptive search, as its rounds stand when a round starts. */
export interface SearchGroupProgress {
  /** The group's swept parameters, e.g. "n_train=5000". */
  label: string;
  phase: 'waiting' | 'coarse' | 'bracket' | 'seeds' | 'done';
  /** 1-based round being trained (0 while waiting). */
  round: number;
  /** Batch sizes measured so far. */
  points: number;
  best: { batchSize: number; accuracy: number; seeds: number } | null;
  bracket: [number, number] | null;
  /** The theory's B_opt for this group, when the prior gave one. */
  predicted: number | null;
  tasksUsed: number;
  maxTasks: number;
  epochsUsed: number;
  maxEpochs: number | null;
}

/** An adaptive search at the start of one of its rounds. */
export interface SearchProgress {
  groups: SearchGroupProgress[];
  /** Estimated cost (estimateCost units) of the rounds after this one: expected and at most. */
  laterCostExpected: number;
  laterCostMax: number;
  laterTasksExpected: number;
}

export type SweepEvent =
  | {
      type: 'sweep-start';
      sweep: string;
      database: string;
      engine: string;
      workers: number;
      counts: StateCounts;
      /** Estimated cost of the tasks still to run (see estimateCost). */
      remainingCost: number;
      totalCost: number;
      /** Present when the sweep is one round of an adaptive search. */
      search?: SearchProgress;
    }
  | { type: 'task-start'; key: string; params: TrainConfig; lane: number; attempt: number; cost: number }
  | { type: 'task-progress'; key: string; lane: number; step: number; totalSteps: number; loss: number }
  /** A running task was lent idle slots as threads, or gave them back (threads: the slots it now uses). */
  | { type: 'task-threads'; key: string; lane: number; threads: number }
  | {
      type: 'task-done';
      key: string;
      params: TrainConfig;
      lane: number;
      cost: number;
      testAccuracy: number;
      trainAccuracy: number;
      diverged: boolean;
      wallMs: number;
    }
  | { type: 'task-retry'; key: string; lane: number; attempt: number; error: string }
  | { type: 'task-failed'; key: string; params: TrainConfig; lane: number; attempts: number; error: string }
  | { type: 'paused'; paused: boolean }
  /** Tasks joined the running sweep (an adaptive search's next round for a group): counts and cost grow. */
  | { type: 'tasks-added'; tasks: number; cost: number; search?: SearchProgress }
  /** A database write (a result, a state change) is waiting on a lock or a full disk and will be retried. */
  | { type: 'store-blocked'; problem: string; waitedMs: number; retryInMs: number }
  | { type: 'sweep-end'; counts: StateCounts; reason: 'complete' | 'interrupted'; wallMs: number };

export type SweepEventType = SweepEvent['type'];
export type SweepEventOf<T extends SweepEventType> = Extract<SweepEvent, { type: T }>;
