/**
 * The read side of the database for everything that is not the coordinator: the analysis (runs,
 * curves, counts), `bopt watch` (running tasks, their progress, failures, accuracy cells), `bopt
 * export` and `bopt plan` (stored wall times). Every statement is prepared on first use, so a command
 * that reads runs never needs the tables of a later schema version it does not read.
 */
import type Database from 'better-sqlite3';
import { trainConfigSchema, type TrainConfig } from '../engines/config.js';
import { NotFoundError } from '../errors.js';
import { runQuery, type QueryResult } from './query.js';

/** One finished run of a sweep as the `runs` view gives it: parameters and final metrics. */
export interface RunRecord {
  task_key: string;
  model: string;
  dataset: string;
  labels: string;
  lr: number;
  batch_size: number;
  n_train: number;
  momentum: number;
  l2: number;
  steps: number;
  seed: number;
  noise_scale: number | null;
  train_accuracy: number | null;
  train_loss: number | null;
  test_accuracy: number | null;
  test_loss: number | null;
  diverged: number;
  log_evidence: number | null;
  log_evidence_per_example: number | null;
}

/** One evaluation point of a run's learning curve. */
export interface CurveRow {
  task_key: string;
  batch_size: number;
  lr: number;
  l2: number;
  seed: number;
  step: number;
  train_loss: number | null;
  test_loss: number | null;
  test_accuracy: number | null;
}

/** A finished task as stored: its parameters (steps as trained) and its measured wall time. */
export interface StoredTiming {
  params: TrainConfig;
  wallMs: number;
}

/** A running task of a sweep with the step-level progress its coordinator published (null before any). */
export interface RunningTaskRecord {
  key: string;
  params: TrainConfig;
  /** Failed attempts before this one. */
  attempts: number;
  lane: number | null;
  step: number | null;
  totalSteps: number | null;
  loss: number | null;
}

/** A task whose last attempt failed: failed for good, or pending for a retry. */
export interface FailedTaskRecord {
  key: string;
  params: TrainConfig;
  attempts: number;
  error: string;
  finishedAt: number | null;
  final: boolean;
}

/** Sum and count of the finite test accuracies of one (lr, n_train, momentum, batch size) cell. */
export interface AccuracyCell {
  lr: number;
  n_train: number;
  momentum: number;
  batch_size: number;
  sum: number;
  n: number;
}

/** The (lr, n_train, momentum) of a sweep's task, from its stored parameters. */
export interface GroupParamsRecord {
  lr: number;
  n_train: number;
  momentum: number;
}

const MEMBER = 'FROM sweep_tasks st JOIN tasks t ON t.key = st.task_key WHERE st.sweep_id = ?';

export class SweepReader {
  private readonly statements = new Map<string, Database.Statement>();

  constructor(private readonly db: Database.Database) {}

  private prepared(sql: string): Database.Statement {
    let stmt = this.statements.get(sql);
    if (!stmt) this.statements.set(sql, (stmt = this.db.prepare(sql)));
    return stmt;
  }

  // ----------------------------------------------------------------------------------------------
  // The analysis

  /** The finished runs of a sweep, by task key. Refuses a sweep the database does not hold. */
  runs(sweep: string): RunRecord[] {
    if (!this.prepared('SELECT 1 FROM sweeps WHERE name = ?').get(sweep))
      throw new NotFoundError(`no sweep named "${sweep}" in the database`);
    return this.prepared(
      `SELECT task_key, model, dataset, labels, lr, batch_size, n_train, momentum, l2, steps, seed, noise_scale,
              train_accuracy, train_loss, test_accuracy, test_loss, diverged, log_evidence, log_evidence_per_example
       FROM runs WHERE sweep = ? ORDER BY task_key`,
    ).all(sweep) as RunRecord[];
  }

  /** Tasks of a sweep and how many are done, to say when a sweep is not finished. */
  taskCounts(sweep: string): { total: number; done: number } {
    const r = this.prepared('SELECT total, done FROM sweep_status WHERE sweep = ?').get(sweep) as
      { total: number; done: number } | undefined;
    return r ?? { total: 0, done: 0 };
  }

  /** The learning curves of a sweep's finished runs, by batch size, seed and step. */
  curves(sweep: string): CurveRow[] {
    return this.prepared(
      `SELECT c.task_key, r.batch_size, r.lr, r.l2, r.seed, c.step, c.train_loss, c.test_loss, c.test_accuracy
       FROM runs r JOIN curves c ON c.task_key = r.task_key
       WHERE r.sweep = ? ORDER BY r.batch_size, r.seed, c.step`,
    ).all(sweep) as CurveRow[];
  }

  // ----------------------------------------------------------------------------------------------
  // `bopt export` and `bopt plan`

  /** Every column of the `runs` view for a sweep, with the learning curves joined in when `curves`. */
  exportRuns(sweep: string, curves: boolean): QueryResult {
    const sql = curves
      ? `SELECT r.*, c.step, c.train_loss AS curve_train_loss, c.test_loss AS curve_test_loss, c.test_accuracy AS curve_test_accuracy
         FROM runs r JOIN curves c ON c.task_key = r.task_key WHERE r.sweep = ? ORDER BY r.task_key, c.step`
      : 'SELECT * FROM runs WHERE sweep = ? ORDER BY lr, batch_size, n_train, momentum, seed';
    return runQuery(this.db, sql, [sweep]);
  }

  /**
   * Finished tasks' parameters and wall times, the keys of every stored result, and every finished or
   * failed task's outcome as the search sees it (accuracy null when it failed or diverged). A task
   * whose parameters this bopt no longer reads is left out of the timings (its key still counts as done).
   */
  storedTimings(): {
    stored: StoredTiming[];
    done: Set<string>;
    outcomes: Map<string, { testAccuracy: number | null }>;
  } {
    const rows = this.prepared(
      `SELECT t.key AS key, t.params AS params, r.wall_ms AS wallMs, r.steps_done AS stepsDone,
              r.test_accuracy AS testAccuracy, r.diverged AS diverged
       FROM results r JOIN tasks t ON t.key = r.task_key`,
    ).all() as {
      key: string;
      params: string;
      wallMs: number;
      stepsDone: number;
      testAccuracy: number | null;
      diverged: number | null;
    }[];
    const stored: StoredTiming[] = [];
    const outcomes = new Map<string, { testAccuracy: number | null }>();
    for (const r of rows) {
      const parsed = trainConfigSchema.safeParse(JSON.parse(r.params));
      // a diverged run stopped early: its wall time paid for the steps it did
      if (parsed.success) stored.push({ params: { ...parsed.data, steps: r.stepsDone }, wallMs: r.wallMs });
      outcomes.set(r.key, { testAccuracy: r.diverged === 0 ? r.testAccuracy : null });
    }
    for (const key of this.prepared(`SELECT key FROM tasks WHERE state = 'failed'`).pluck().all() as string[])
      if (!outcomes.has(key)) outcomes.set(key, { testAccuracy: null });
    return { stored, done: new Set(rows.map((r) => r.key)), outcomes };
  }

  // ----------------------------------------------------------------------------------------------
  // `bopt watch`

  /** Running tasks of a sweep, by lane, with their published progress. */
  runningTasks(sweepId: number): RunningTaskRecord[] {
    const lane = this.progressLaneColumn();
    const rows = this.prepared(
      `SELECT t.key, t.params, t.attempts, p.${lane} AS lane, p.step, p.total_steps AS totalSteps, p.loss
       FROM sweep_tasks st JOIN tasks t ON t.key = st.task_key LEFT JOIN progress p ON p.task_key = t.key
       WHERE st.sweep_id = ? AND t.state = 'running' ORDER BY p.${lane}`,
    ).all(sweepId) as Array<Omit<RunningTaskRecord, 'params'> & { params: string }>;
    return rows.map((r) => ({ ...r, params: JSON.parse(r.params) as TrainConfig }));
  }

  /**
   * Schema v3 renamed progress.worker to lane. A database opened read-only is not migrated, so
   * `bopt watch` of a sweep an older bopt is running reads the column by its old name.
   */
  private progressLaneColumn(): 'lane' | 'worker' {
    const columns = this.prepared("SELECT name FROM pragma_table_info('progress')").pluck().all() as string[];
    return columns.includes('worker') && !columns.includes('lane') ? 'worker' : 'lane';
  }

  /** The `limit` most recent failed attempts of a sweep's tasks that are failed or waiting for a retry. */
  recentFailures(sweepId: number, limit: number): FailedTaskRecord[] {
    const rows = this.prepared(
      `SELECT t.key, t.params, t.attempts, t.last_error AS error, t.finished_at AS finishedAt, t.state ${MEMBER}
       AND t.last_error IS NOT NULL AND t.state IN ('failed', 'pending') ORDER BY t.finished_at DESC LIMIT ?`,
    ).all(sweepId, limit) as Array<{
      key: string;
      params: string;
      attempts: number;
      error: string;
      finishedAt: number | null;
      state: string;
    }>;
    return rows.map(({ state, params, ...f }) => ({
      ...f,
      params: JSON.parse(params) as TrainConfig,
      final: state === 'failed',
    }));
  }

  /** Test accuracy sums and counts per (lr, n_train, momentum, batch size) of a sweep's finished runs. */
  accuracyCells(sweep: string): AccuracyCell[] {
    const rows = this.prepared(
      `SELECT lr, n_train, momentum, batch_size, sum(test_accuracy) AS sum, count(test_accuracy) AS n
       FROM runs WHERE sweep = ? AND test_accuracy IS NOT NULL GROUP BY lr, n_train, momentum, batch_size`,
    ).all(sweep) as Array<Omit<AccuracyCell, 'momentum'> & { momentum: number | null }>;
    return rows.map((c) => ({ ...c, momentum: c.momentum ?? 0 }));
  }

  /** The cost of running tasks' steps done so far (cost times the share of steps done). */
  runningDoneCost(sweepId: number): number {
    return (
      this.prepared(
        `SELECT coalesce(sum(t.cost * min(1.0, CAST(p.step AS REAL) / p.total_steps)), 0) AS cost
         FROM progress p JOIN tasks t ON t.key = p.task_key JOIN sweep_tasks st ON st.task_key = t.key
         WHERE st.sweep_id = ? AND t.state = 'running' AND p.total_steps > 0`,
      ).get(sweepId) as { cost: number }
    ).cost;
  }

  /** The earliest start of a sweep's tasks at or after `since` (null when none started since). */
  firstStartSince(sweepId: number, since: number): number | null {
    return (
      this.prepared(`SELECT min(t.started_at) AS at ${MEMBER} AND t.started_at >= ?`).get(sweepId, since) as {
        at: number | null;
      }
    ).at;
  }

  /** The engines of a sweep's tasks. */
  engines(sweepId: number): string[] {
    return this.prepared(`SELECT DISTINCT t.engine ${MEMBER}`).pluck().all(sweepId) as string[];
  }

  /** The distinct (lr, n_train, momentum) of a sweep's tasks, finished or not. */
  groupParams(sweepId: number): GroupParamsRecord[] {
    return this.prepared(
      `SELECT DISTINCT json_extract(t.params, '$.lr') AS lr, json_extract(t.params, '$.n_train') AS n_train,
         coalesce(json_extract(t.params, '$.momentum'), 0) AS momentum ${MEMBER}`,
    ).all(sweepId) as GroupParamsRecord[];
  }
}
