/**
 * How far a sweep is and when it will end: one formula for the live UI (from the event stream),
 * `bopt watch` and `bopt status` (from the database). Work is measured in the cost model's units
 * (src/sweep/cost.ts), so the ETA is the cost left over the cost trained per millisecond.
 */
import type { LeaseRecord, StateCounts, SweepStore } from '../storage/store.js';

/** The window over which recent throughput and the ETA of a stored sweep are measured (status, watch). */
export const THROUGHPUT_WINDOW_MS = 5 * 60_000;

/** Where a stored sweep stands: run by a live coordinator, stopped with work left, or complete. */
export type StoredPhase = 'running' | 'stopped' | 'complete';

/** The lease when its coordinator still holds it (it has not expired). */
export function liveLease(lease: LeaseRecord | undefined, now: number): LeaseRecord | undefined {
  return lease !== undefined && lease.expiresAt > now ? lease : undefined;
}

export function storedPhase(counts: StateCounts, lease: LeaseRecord | undefined, now: number): StoredPhase {
  if (liveLease(lease, now)) return 'running';
  return counts.pending + counts.running > 0 ? 'stopped' : 'complete';
}

/** What was trained over a span of time, and what is left. */
export interface WorkMeasure {
  /** Tasks finished in the span. */
  tasks: number;
  /** Cost trained in the span (finished tasks, and the trained share of running ones). */
  cost: number;
  spanMs: number;
  /** Cost still to train. */
  leftCost: number;
  /** Whether something is training the sweep now (a live coordinator; the live UI once started). */
  active: boolean;
  /** The sweep (or this run of it) is over: nothing is left to wait for. */
  ended: boolean;
  /** A search's later rounds, priced by the same cost model: the expected cost and the most they may cost. */
  laterCost?: { expected: number; max: number };
}

export interface Throughput {
  /** Null before a second of measurement or before the first finished task. */
  tasksPerMinute: number | null;
  /** 0 once ended or nothing is left; null while nothing trains or no rate is known yet. */
  etaMs: number | null;
  /** With later rounds: the ETA if they cost their maximum; null otherwise or without a rate. */
  etaMaxMs: number | null;
}

export function throughput(m: WorkMeasure): Throughput {
  const costRate = m.spanMs > 0 ? m.cost / m.spanMs : 0;
  const tasksPerMinute = m.spanMs >= 1000 && m.tasks > 0 ? (m.tasks / m.spanMs) * 60_000 : null;
  const later = m.ended ? 0 : (m.laterCost?.expected ?? 0);
  let etaMs: number | null;
  if (m.ended) etaMs = 0;
  else if (!m.active) etaMs = null;
  else if (costRate > 0) etaMs = (m.leftCost + later) / costRate;
  else etaMs = m.leftCost <= 0 ? 0 : null;
  let etaMaxMs: number | null = null;
  if (m.laterCost && m.ended) etaMaxMs = 0;
  else if (m.laterCost && etaMs !== null && costRate > 0) etaMaxMs = etaMs + (m.laterCost.max - later) / costRate;
  return { tasksPerMinute, etaMs, etaMaxMs };
}

/** Done share of the total cost, 0..1; a sweep without a cost estimate is done once it ended. */
export function costFraction(leftCost: number, totalCost: number, ended: boolean): number {
  if (totalCost > 0) return Math.min(1, Math.max(0, 1 - leftCost / totalCost));
  return ended ? 1 : 0;
}

/** A stored sweep's state, throughput and ETA, as `bopt status` and `bopt watch` show it. */
export interface StoredProgress extends Throughput {
  counts: StateCounts & { total: number; totalCost: number; remainingCost: number };
  phase: StoredPhase;
  /** The lease of the coordinator running the sweep now, if any. */
  live: LeaseRecord | undefined;
  fraction: number;
  /** How long the throughput was measured over (at most THROUGHPUT_WINDOW_MS). */
  spanMs: number;
}

/**
 * Throughput over the last THROUGHPUT_WINDOW_MS: the tasks finished in the window plus the trained
 * share of the running ones, over the time since the first of them started in the window.
 */
export function storedProgress(store: SweepStore, sweepId: number, now: number): StoredProgress {
  const counts = store.counts(sweepId);
  const lease = store.getLease(sweepId);
  const phase = storedPhase(counts, lease, now);
  const since = now - THROUGHPUT_WINDOW_MS;
  const recent = store.finishedSince(sweepId, since);
  const partial = store.reader.runningDoneCost(sweepId);
  const first = store.reader.firstStartSince(sweepId, since);
  const spanMs = first !== null ? Math.max(0, now - first) : 0;
  const leftCost = Math.max(0, counts.remainingCost - partial);
  const live = liveLease(lease, now);
  const ended = phase === 'complete';
  return {
    counts,
    phase,
    live,
    fraction: costFraction(leftCost, counts.totalCost, true),
    spanMs,
    ...throughput({ tasks: recent.tasks, cost: recent.cost + partial, spanMs, leftCost, active: !!live, ended }),
  };
}
