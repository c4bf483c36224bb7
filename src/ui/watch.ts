/**
 * `bopt watch [SWEEP]`: the live UI attached read-only to a sweep another process is running. Polls
 * the SQLite database (WAL: readers never block the writer) and synthesises the same ViewModel as
 * the event stream gives `bopt run`: counts and cost from the tasks, step-level progress from the
 * coordinator's `progress` heartbeat table, failures from the tasks' last errors, and the science
 * panel from the `runs` view.
 */
import { liveLease, storedProgress } from '../scheduler/progress.js';
import { SweepStore } from '../storage/store.js';
import { ScienceAccumulator } from './science.js';
import { MAX_FAILURES, type FailureView, type Phase, type ViewModel, type WorkerView } from './state.js';

export class SweepWatcher {
  private readonly store: SweepStore;
  private readonly startedAt: number;
  readonly name: string;
  private readonly sweepId: number;
  private readonly engine: string;
  /** Distinct (lr, n_train, momentum) of the sweep's tasks: decides the swept variable up front. */
  private readonly combos: Array<{ lr: number; n_train: number; momentum: number }>;

  constructor(path: string, sweep?: string, now: number = Date.now()) {
    this.store = SweepStore.openReadOnly(path);
    this.startedAt = now;
    try {
      this.name = sweep ?? pickSweep(this.store, now);
      const record = this.store.requireSweep(this.name);
      this.sweepId = record.id;
      this.engine = this.store.reader.engines(this.sweepId).join('+');
      this.combos = this.store.reader.groupParams(this.sweepId);
    } catch (e) {
      this.store.close();
      throw e;
    }
  }

  close(): void {
    this.store.close();
  }

  poll(now: number = Date.now()): ViewModel {
    const reader = this.store.reader;
    const progress = storedProgress(this.store, this.sweepId, now);
    const { counts: c, live } = progress;
    const phase: Phase = progress.phase;

    const running: WorkerView[] = reader.runningTasks(this.sweepId).map((r, i) => ({
      lane: r.lane ?? 1000 + i,
      key: r.key,
      params: r.params,
      attempt: r.attempts + 1,
      step: r.step ?? 0,
      totalSteps: r.totalSteps ?? r.params.steps,
      loss: r.loss,
    }));

    const failures: FailureView[] = reader.recentFailures(this.sweepId, MAX_FAILURES).map((f) => ({
      key: f.key,
      params: f.params,
      error: f.error,
      attempts: f.attempts,
      final: f.final,
      at: f.finishedAt ?? 0,
    }));

    const science = new ScienceAccumulator();
    for (const combo of this.combos) science.note({ ...combo, batch_size: 0 });
    for (const cell of reader.accuracyCells(this.name)) {
      science.add(
        { lr: cell.lr, n_train: cell.n_train, momentum: cell.momentum, batch_size: cell.batch_size },
        cell.sum,
        cell.n,
      );
    }

    return {
      mode: 'watch',
      sweep: this.name,
      database: this.store.path,
      engine: this.engine,
      workers: null,
      phase,
      counts: { pending: c.pending, running: c.running, done: c.done, failed: c.failed },
      total: c.total,
      fraction: progress.fraction,
      elapsedMs: now - this.startedAt,
      tasksPerMinute: progress.tasksPerMinute,
      etaMs: progress.etaMs,
      running,
      failures,
      retries: failures.filter((f) => !f.final).length,
      science: science.summarize(),
      // The database holds a search's chosen tasks, not its rounds' state: watch shows them as a grid.
      search: null,
      etaMaxMs: null,
      note: live
        ? `run by pid ${live.pid} on ${live.host}`
        : phase === 'stopped'
          ? 'no coordinator (resume it with bopt resume)'
          : undefined,
    };
  }
}

/** With no name: the sweep a live coordinator is running, else the last updated one. */
function pickSweep(store: SweepStore, now: number): string {
  const sweeps = store.listSweeps();
  if (sweeps.length === 0) return store.requireSweep('').name; // throws "no sweeps yet"
  for (const s of sweeps) {
    const record = store.getSweep(s.name);
    if (record && liveLease(store.getLease(record.id), now)) return s.name;
  }
  return sweeps[0]!.name;
}
