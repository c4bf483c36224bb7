/**
 * The UI's model of a sweep, built from the SweepEvent stream. Two steps, kept apart so that no event
 * ever pays for rendering:
 *  - applyEvent(state, e, now): O(1) bookkeeping per event, touches nothing but `state`;
 *  - snapshot(state, now): the derived ViewModel (ETA, throughput, science fit) the components draw,
 *    computed only when a frame is drawn.
 * `bopt watch` builds the same ViewModel from the database (see watch.ts).
 */
import type { TrainConfig } from '../engines/config.js';
import type { SearchProgress, SweepEvent } from '../scheduler/events.js';
import { costFraction, throughput } from '../scheduler/progress.js';
import type { StateCounts } from '../storage/store.js';
import { ScienceAccumulator, type ScienceView } from './science.js';

export const MAX_FAILURES = 20;

export type Phase = 'starting' | 'running' | 'paused' | 'stopping' | 'complete' | 'interrupted' | 'stopped';

export interface WorkerView {
  lane: number;
  key: string;
  params: TrainConfig | null;
  attempt: number;
  step: number;
  totalSteps: number;
  loss: number | null;
  /** Threads it trains on when idle slots were lent to it (absent: one). */
  threads?: number;
}

export interface FailureView {
  key: string;
  params: TrainConfig | null;
  error: string;
  attempts: number;
  /** False for a failed attempt that will be retried. */
  final: boolean;
  at: number;
}

export interface ViewModel {
  mode: 'live' | 'watch';
  sweep: string;
  database: string;
  engine: string;
  /** Worker slots; null when unknown (watch). */
  workers: number | null;
  phase: Phase;
  counts: StateCounts;
  total: number;
  /** Done share of the total estimated cost, 0..1 (counts partially trained running tasks). */
  fraction: number;
  elapsedMs: number;
  /** Tasks finished per minute; null before there is a rate. */
  tasksPerMinute: number | null;
  /** Remaining cost / cost throughput; null when unknown. */
  etaMs: number | null;
  running: WorkerView[];
  /** Most recent first. */
  failures: FailureView[];
  retries: number;
  science: ScienceView;
  /** An adaptive search's groups and budget at the start of this round; null for a grid. */
  search: SearchProgress | null;
  /** Upper bound of the ETA for a search (its maximum budget); null otherwise. */
  etaMaxMs: number | null;
  /** Extra header text (watch: who runs the sweep). */
  note?: string;
}

interface Running extends WorkerView {
  cost: number;
  /** Cost credited so far for the partial progress of this task. */
  credited: number;
}

export interface SweepState {
  started: boolean;
  sweep: string;
  database: string;
  engine: string;
  workers: number;
  counts: StateCounts;
  total: number;
  totalCost: number;
  /** Cost still to run when the sweep started. */
  remainingAtStart: number;
  /** Cost trained by this run: finished tasks plus the done share of running ones. */
  workDone: number;
  /** Cost of tasks that failed for good (will not run). */
  dropped: number;
  trained: number;
  retries: number;
  startedAt: number;
  endedAt: number | null;
  paused: boolean;
  stopping: boolean;
  endReason: 'complete' | 'interrupted' | null;
  lanes: Map<number, Running>;
  failures: FailureView[];
  science: ScienceAccumulator;
  search: SearchProgress | null;
}

export function createState(now: number = Date.now()): SweepState {
  return {
    started: false,
    sweep: '',
    database: '',
    engine: '',
    workers: 0,
    counts: { pending: 0, running: 0, done: 0, failed: 0 },
    total: 0,
    totalCost: 0,
    remainingAtStart: 0,
    workDone: 0,
    dropped: 0,
    trained: 0,
    retries: 0,
    startedAt: now,
    endedAt: null,
    paused: false,
    stopping: false,
    endReason: null,
    lanes: new Map(),
    failures: [],
    science: new ScienceAccumulator(),
    search: null,
  };
}

function pushFailure(state: SweepState, f: FailureView): void {
  state.failures.push(f);
  if (state.failures.length > MAX_FAILURES) state.failures.shift();
}

/** Take a task off its lane, withdrawing the partial credit it had. */
function release(state: SweepState, lane: number, key: string): Running | undefined {
  const r = state.lanes.get(lane);
  if (!r || r.key !== key) return undefined;
  state.lanes.delete(lane);
  state.workDone -= r.credited;
  return r;
}

/** Fold one event into the state. O(1) (amortised); mutates nothing but `state`. */
export function applyEvent(state: SweepState, e: SweepEvent, now: number = Date.now()): void {
  switch (e.type) {
    case 'sweep-start':
      state.started = true;
      state.sweep = e.sweep;
      state.database = e.database;
      state.engine = e.engine;
      state.workers = e.workers;
      // Tasks left running by a dead coordinator were reclaimed before the event: they are pending now.
      state.counts = { ...e.counts, pending: e.counts.pending + e.counts.running, running: 0 };
      state.total = e.counts.pending + e.counts.running + e.counts.done + e.counts.failed;
      state.totalCost = e.totalCost;
      state.remainingAtStart = e.remainingCost;
      state.startedAt = now;
      state.search = e.search ?? null;
      return;
    case 'task-start': {
      state.counts.pending = Math.max(0, state.counts.pending - 1);
      state.counts.running++;
      state.lanes.set(e.lane, {
        lane: e.lane,
        key: e.key,
        params: e.params,
        attempt: e.attempt,
        step: 0,
        totalSteps: e.params.steps,
        loss: null,
        cost: e.cost,
        credited: 0,
      });
      state.science.note(e.params);
      return;
    }
    case 'task-progress': {
      const r = state.lanes.get(e.lane);
      if (!r || r.key !== e.key) return;
      r.step = e.step;
      r.totalSteps = e.totalSteps;
      r.loss = e.loss;
      const credit = e.totalSteps > 0 ? r.cost * Math.min(1, e.step / e.totalSteps) : 0;
      state.workDone += credit - r.credited;
      r.credited = credit;
      return;
    }
    case 'task-threads': {
      const r = state.lanes.get(e.lane);
      if (r && r.key === e.key) r.threads = e.threads;
      return;
    }
    case 'task-done':
      release(state, e.lane, e.key);
      state.counts.running = Math.max(0, state.counts.running - 1);
      state.counts.done++;
      state.trained++;
      state.workDone += e.cost;
      state.science.add(e.params, e.testAccuracy);
      return;
    case 'task-retry': {
      const r = release(state, e.lane, e.key);
      state.counts.running = Math.max(0, state.counts.running - 1);
      state.counts.pending++;
      state.retries++;
      pushFailure(state, {
        key: e.key,
        params: r?.params ?? null,
        error: e.error,
        attempts: e.attempt,
        final: false,
        at: now,
      });
      return;
    }
    case 'task-failed': {
      const r = release(state, e.lane, e.key);
      state.counts.running = Math.max(0, state.counts.running - 1);
      state.counts.failed++;
      state.dropped += r?.cost ?? 0;
      pushFailure(state, { key: e.key, params: e.params, error: e.error, attempts: e.attempts, final: true, at: now });
      return;
    }
    case 'paused':
      state.paused = e.paused;
      return;
    case 'tasks-added':
      state.counts.pending += e.tasks;
      state.total += e.tasks;
      state.totalCost += e.cost;
      state.remainingAtStart += e.cost;
      if (e.search) state.search = e.search;
      return;
    case 'sweep-end':
      state.counts = { ...e.counts };
      state.endedAt = now;
      state.endReason = e.reason;
      state.lanes.clear();
      return;
  }
}

/** Mark that a graceful stop was asked for (q / Ctrl-C), before the coordinator confirms it. */
export function markStopping(state: SweepState): void {
  state.stopping = true;
}

/** Cost still to run, from the sweep-start estimate and what this run trained or dropped. */
export function remainingCost(state: SweepState): number {
  return Math.max(0, state.remainingAtStart - state.workDone - state.dropped);
}

/** Done share of the total estimated cost, 0..1, counting running tasks' partial progress. Cheap: O(1). */
export function doneFraction(state: SweepState): number {
  return costFraction(remainingCost(state), state.totalCost, state.endedAt !== null);
}

/** The ViewModel of the current state: derived numbers are computed here, once per frame. */
export function snapshot(state: SweepState, now: number = Date.now()): ViewModel {
  const end = state.endedAt ?? now;
  const elapsedMs = Math.max(0, end - state.startedAt);
  // A search's later rounds are priced by the same cost model as this round's tasks.
  const { tasksPerMinute, etaMs, etaMaxMs } = throughput({
    tasks: state.trained,
    cost: state.workDone,
    spanMs: elapsedMs,
    leftCost: remainingCost(state),
    active: state.started,
    ended: state.endedAt !== null,
    laterCost: state.search ? { expected: state.search.laterCostExpected, max: state.search.laterCostMax } : undefined,
  });
  const phase: Phase =
    state.endReason !== null
      ? state.endReason
      : !state.started
        ? 'starting'
        : state.stopping
          ? 'stopping'
          : state.paused
            ? 'paused'
            : 'running';
  const running = [...state.lanes.values()]
    .sort((a, b) => a.lane - b.lane)
    .map(({ lane, key, params, attempt, step, totalSteps, loss, threads }) => ({
      lane,
      key,
      params,
      attempt,
      step,
      totalSteps,
      loss,
      ...(threads !== undefined && threads > 1 ? { threads } : {}),
    }));
  return {
    mode: 'live',
    sweep: state.sweep,
    database: state.database,
    engine: state.engine,
    workers: state.started ? state.workers : null,
    phase,
    counts: { ...state.counts },
    total: state.total,
    fraction: doneFraction(state),
    elapsedMs,
    tasksPerMinute,
    etaMs,
    running,
    failures: [...state.failures].reverse(),
    retries: state.retries,
    science: state.science.summarize(),
    search: state.search,
    etaMaxMs,
  };
}

/** The ViewModel after a list of events: the pure, Ink-free entry point for tests. */
export function reduce(events: readonly SweepEvent[], now: number = Date.now(), startedAt: number = now): ViewModel {
  const state = createState(startedAt);
  for (const e of events) applyEvent(state, e, e.type === 'sweep-start' ? startedAt : now);
  return snapshot(state, now);
}
