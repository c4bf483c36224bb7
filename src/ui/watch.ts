/**
 * `bopt watch [SWEEP]`: the live UI attached read-only to a sweep another process is running. Polls
 * the SQLite database (WAL: readers never block the writer) and synthesises the same ViewModel as
 * the event stream gives `bopt run`: counts and cost from the tasks, step-level progress from the
 * coordinator's `progress` heartbeat table, failures from the tasks' last errors, and the science
 * panel from the `runs` view.
 */
import type Database from 'better-sqlite3';
import type { TrainConfig } from '../engines/config.js';
import { openReadOnly } from '../storage/open.js';
import { storedPhase, SweepStore, THROUGHPUT_WINDOW_MS } from '../storage/store.js';
import { ScienceAccumulator } from './science.js';
import { MAX_FAILURES, type FailureView, type Phase, type ViewModel, type WorkerView } from './state.js';

export class SweepWatcher {
  private readonly store: SweepStore;
  private readonly db: Database.Database;
  private readonly stmt;
  private readonly startedAt: number;
  readonly name: string;
  private readonly sweepId: number;
  private readonly engine: string;
  /** Distinct (lr, n_train, momentum) of the sweep's tasks: decides the swept variable up front. */
  private readonly combos: Array<{ lr: number; n_train: number; momentum: number }>;

  constructor(path: string, sweep?: string, now: number = Date.now()) {
    this.db = openReadOnly(path);
    this.store = new SweepStore(this.db, path);
    this.startedAt = now;
    try {
      this.name = sweep ?? pickSweep(this.store, now);
      const record = this.store.requireSweep(this.name);
      this.sweepId = record.id;
    } catch (e) {
      this.store.close();
      throw e;
    }
    const member = 'FROM sweep_tasks st JOIN tasks t ON t.key = st.task_key WHERE st.sweep_id = ?';
    this.stmt = {
      running: this.db.prepare(
        `SELECT t.key, t.params, t.attempts, p.worker, p.step, p.total_steps AS totalSteps, p.loss ${member.replace(
          'WHERE',
          'LEFT JOIN progress p ON p.task_key = t.key WHERE',
        )} AND t.state = 'running' ORDER BY p.worker`,
      ),
      failures: this.db.prepare(
        `SELECT t.key, t.params, t.attempts, t.last_error AS error, t.finished_at AS at, t.state ${member}
         AND t.last_error IS NOT NULL AND t.state IN ('failed', 'pending') ORDER BY t.finished_at DESC LIMIT ${MAX_FAILURES}`,
      ),
      cells: this.db.prepare(
        `SELECT lr, n_train, momentum, batch_size, sum(test_accuracy) AS sum, count(test_accuracy) AS n
         FROM runs WHERE sweep = ? AND test_accuracy IS NOT NULL GROUP BY lr, n_train, momentum, batch_size`,
      ),
      partial: this.db.prepare(
        `SELECT coalesce(sum(t.cost * min(1.0, CAST(p.step AS REAL) / p.total_steps)), 0) AS cost
         FROM progress p JOIN tasks t ON t.key = p.task_key JOIN sweep_tasks st ON st.task_key = t.key
         WHERE st.sweep_id = ? AND t.state = 'running' AND p.total_steps > 0`,
      ),
      firstStart: this.db.prepare(`SELECT min(t.started_at) AS at ${member} AND t.started_at >= ?`),
    };
    const engines = this.db.prepare(`SELECT DISTINCT t.engine ${member}`).all(this.sweepId) as Array<{
      engine: string;
    }>;
    this.engine = engines.map((e) => e.engine).join('+');
    this.combos = this.db
      .prepare(
        `SELECT DISTINCT json_extract(t.params, '$.lr') AS lr, json_extract(t.params, '$.n_train') AS n_train,
           coalesce(json_extract(t.params, '$.momentum'), 0) AS momentum ${member}`,
      )
      .all(this.sweepId) as Array<{ lr: number; n_train: number; momentum: number }>;
  }

  close(): void {
    this.store.close();
  }

  poll(now: number = Date.now()): ViewModel {
    const c = this.store.counts(this.sweepId);
    const lease = this.store.getLease(this.sweepId);
    const phase: Phase = storedPhase(c, lease, now);
    const live = phase === 'running' ? lease : undefined;

    const running: WorkerView[] = (
      this.stmt.running.all(this.sweepId) as Array<{
        key: string;
        params: string;
        attempts: number;
        worker: number | null;
        step: number | null;
        totalSteps: number | null;
        loss: number | null;
      }>
    ).map((r, i) => {
      const params = JSON.parse(r.params) as TrainConfig;
      return {
        lane: r.worker ?? 1000 + i,
        key: r.key,
        params,
        attempt: r.attempts + 1,
        step: r.step ?? 0,
        totalSteps: r.totalSteps ?? params.steps,
        loss: r.loss,
      };
    });

    const failures: FailureView[] = (
      this.stmt.failures.all(this.sweepId) as Array<{
        key: string;
        params: string;
        attempts: number;
        error: string;
        at: number | null;
        state: string;
      }>
    ).map((f) => ({
      key: f.key,
      params: JSON.parse(f.params) as TrainConfig,
      error: f.error,
      attempts: f.attempts,
      final: f.state === 'failed',
      at: f.at ?? 0,
    }));

    const science = new ScienceAccumulator();
    for (const combo of this.combos) science.note({ ...combo, batch_size: 0 });
    for (const cell of this.stmt.cells.all(this.name) as Array<{
      lr: number;
      n_train: number;
      momentum: number | null;
      batch_size: number;
      sum: number;
      n: number;
    }>) {
      science.add(
        { lr: cell.lr, n_train: cell.n_train, momentum: cell.momentum ?? 0, batch_size: cell.batch_size },
        cell.sum,
        cell.n,
      );
    }

    // Throughput over the last minutes of finished work, plus the done share of running tasks.
    const since = now - THROUGHPUT_WINDOW_MS;
    const recent = this.store.finishedSince(this.sweepId, since);
    const partial = (this.stmt.partial.get(this.sweepId) as { cost: number }).cost;
    const first = (this.stmt.firstStart.get(this.sweepId, since) as { at: number | null }).at;
    const span = first !== null ? now - first : 0;
    const costRate = span > 0 ? (recent.cost + partial) / span : 0;
    const left = Math.max(0, c.remainingCost - partial);
    const etaMs = phase === 'complete' ? 0 : live && costRate > 0 ? left / costRate : null;
    const tasksPerMinute = span >= 1000 && recent.tasks > 0 ? (recent.tasks / span) * 60_000 : null;

    return {
      mode: 'watch',
      sweep: this.name,
      database: this.store.path,
      engine: this.engine,
      workers: null,
      phase,
      counts: { pending: c.pending, running: c.running, done: c.done, failed: c.failed },
      total: c.total,
      fraction: c.totalCost > 0 ? Math.min(1, Math.max(0, 1 - left / c.totalCost)) : 1,
      elapsedMs: now - this.startedAt,
      tasksPerMinute,
      etaMs,
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
    const lease = record ? store.getLease(record.id) : undefined;
    if (lease && lease.expiresAt > now) return s.name;
  }
  return sweeps[0]!.name;
}
