/**
 * The event stream of a running sweep: what a UI, a log printer or a test subscribes to. Every event
 * is a plain serialisable object, so the same stream can be forwarded between processes.
 */
import type { TrainConfig } from '../engines/config.js';
import type { StateCounts } from '../storage/store.js';

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
    }
  | { type: 'task-start'; key: string; params: TrainConfig; lane: number; attempt: number; cost: number }
  | { type: 'task-progress'; key: string; lane: number; step: number; totalSteps: number; loss: number }
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
  /** A database write (a result, a state change) is waiting on a lock or a full disk and will be retried. */
  | { type: 'store-blocked'; problem: string; waitedMs: number; retryInMs: number }
  | { type: 'sweep-end'; counts: StateCounts; reason: 'complete' | 'interrupted'; wallMs: number };

export type SweepEventType = SweepEvent['type'];
export type SweepEventOf<T extends SweepEventType> = Extract<SweepEvent, { type: T }>;
