/**
 * Reading a sweep's runs and curves for the analysis, and storing its fits (db/migrations/002_fits.sql).
 * Reads go through the `runs` view; fits of a sweep are replaced as a whole in one transaction.
 */
import { existsSync, readFileSync } from 'node:fs';
import type Database from 'better-sqlite3';
import { parse as parseYaml } from 'yaml';
import { InputError, NotFoundError } from '../errors.js';
import type { RunRow, SweepFit } from './fit.js';

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

/** A sweep argument is a stored sweep name or a sweep file (whose `name:` is used). */
export function sweepNameOf(arg: string): string {
  if (/\.(ya?ml|json)$/i.test(arg) || existsSync(arg)) {
    if (!existsSync(arg)) throw new NotFoundError(`sweep file not found: ${arg}`);
    const doc = parseYaml(readFileSync(arg, 'utf8')) as { name?: unknown } | null;
    if (!doc || typeof doc.name !== 'string') throw new InputError(`${arg}: no "name:" field`);
    return doc.name;
  }
  return arg;
}

export function loadRuns(db: Database.Database, sweep: string): RunRow[] {
  const exists = db.prepare('SELECT 1 FROM sweeps WHERE name = ?').get(sweep);
  if (!exists) throw new NotFoundError(`no sweep named "${sweep}" in the database`);
  return db
    .prepare(
      `SELECT task_key, model, dataset, labels, lr, batch_size, n_train, momentum, l2, steps, seed, noise_scale,
              train_accuracy, train_loss, test_accuracy, test_loss, diverged, log_evidence, log_evidence_per_example
       FROM runs WHERE sweep = ? ORDER BY task_key`,
    )
    .all(sweep) as RunRow[];
}

/** Counts of tasks by state, to say when a sweep is not finished. */
export function taskCounts(db: Database.Database, sweep: string): { total: number; done: number } {
  const r = db.prepare('SELECT total, done FROM sweep_status WHERE sweep = ?').get(sweep) as
    { total: number; done: number } | undefined;
  return r ?? { total: 0, done: 0 };
}

export function loadCurves(db: Database.Database, sweep: string): CurveRow[] {
  return db
    .prepare(
      `SELECT c.task_key, r.batch_size, r.lr, r.l2, r.seed, c.step, c.train_loss, c.test_loss, c.test_accuracy
       FROM runs r JOIN curves c ON c.task_key = r.task_key
       WHERE r.sweep = ? ORDER BY r.batch_size, r.seed, c.step`,
    )
    .all(sweep) as CurveRow[];
}

/** Replace the stored fits of a sweep. Needs a writable connection at schema v2 or later. */
export function storeFit(db: Database.Database, sweep: string, fit: SweepFit, now = Date.now()): void {
  const delFits = db.prepare('DELETE FROM fits WHERE sweep = ?');
  const delPoints = db.prepare('DELETE FROM fit_points WHERE sweep = ?');
  const delLine = db.prepare('DELETE FROM fit_lines WHERE sweep = ?');
  const insFit = db.prepare(
    `INSERT INTO fits (sweep, group_param, group_value, lr, n_train, momentum, seeds, b_opt_grid, acc_at_grid, sd_at_grid,
       b_opt, method, b_opt_lo, b_opt_hi, grid_lo, grid_hi, interior_peak, peak_margin, g_opt, g_opt_lo, g_opt_hi, created_at)
     VALUES (@sweep, @groupParam, @groupValue, @lr, @n_train, @momentum, @seeds, @bOptGrid, @accAtGrid, @sdAtGrid,
       @bOpt, @method, @bOptLo, @bOptHi, @gridLo, @gridHi, @interior, @peakMargin, @gOpt, @gOptLo, @gOptHi, @now)`,
  );
  const insPoint = db.prepare(
    `INSERT INTO fit_points (sweep, group_value, batch_size, mean_acc, sd_acc, runs, diverged, noise_scale)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const insLine = db.prepare(
    `INSERT INTO fit_lines (sweep, against, groups, slope, r2, exponent, intercept, exponent_lo, exponent_hi,
       exponent_boot_lo, exponent_boot_hi, r2_log, spearman, g_opt_mean, g_opt_cv, created_at)
     VALUES (@sweep, @against, @groups, @slope, @r2, @exponent, @intercept, @exponentLo, @exponentHi,
       @exponentBootLo, @exponentBootHi, @r2Log, @spearman, @gOptMean, @gOptCv, @now)`,
  );
  const finite = (x: number | null): number | null => (x !== null && Number.isFinite(x) ? x : null);
  db.transaction(() => {
    delFits.run(sweep);
    delPoints.run(sweep);
    delLine.run(sweep);
    for (const g of fit.groups) {
      insFit.run({
        sweep,
        groupParam: fit.groupParam,
        groupValue: g.groupValue,
        lr: g.lr,
        n_train: g.n_train,
        momentum: g.momentum,
        seeds: g.seeds,
        bOptGrid: g.bOptGrid,
        accAtGrid: g.accAtGrid,
        sdAtGrid: g.sdAtGrid,
        bOpt: g.bOpt,
        method: g.method,
        bOptLo: finite(g.bOptLo),
        bOptHi: finite(g.bOptHi),
        gridLo: g.gridLo,
        gridHi: g.gridHi,
        interior: g.interiorPeak ? 1 : 0,
        peakMargin: g.peakMargin,
        gOpt: g.gOpt,
        gOptLo: finite(g.gOptLo),
        gOptHi: finite(g.gOptHi),
        now,
      });
      for (const p of g.points)
        insPoint.run(sweep, g.groupValue, p.batchSize, p.mean, p.sd, p.n, p.diverged, p.noiseScale);
    }
    const l = fit.line;
    if (l) {
      insLine.run({
        sweep,
        against: l.against,
        groups: l.groups,
        slope: l.slope,
        r2: l.r2,
        exponent: l.exponent,
        intercept: l.intercept,
        exponentLo: finite(l.exponentLo),
        exponentHi: finite(l.exponentHi),
        exponentBootLo: finite(l.exponentBootLo),
        exponentBootHi: finite(l.exponentBootHi),
        r2Log: l.r2Log,
        spearman: l.spearman,
        gOptMean: finite(fit.gOptMean),
        gOptCv: finite(fit.gOptCv),
        now,
      });
    }
  })();
}
