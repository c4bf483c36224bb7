/**
 * Writing a sweep's B_opt fit into the tables of db/migrations/002_fits.sql. The shape is the
 * analysis's fit, declared here by the fields stored (storage imports nothing above it); the fits of
 * a sweep are replaced as a whole in one transaction.
 */
import type Database from 'better-sqlite3';

export interface StoredFitPoint {
  batchSize: number;
  mean: number;
  sd: number;
  n: number;
  diverged: number;
  noiseScale: number;
}

export interface StoredFitGroup {
  groupValue: number | null;
  lr: number;
  n_train: number;
  momentum: number;
  seeds: number;
  points: readonly StoredFitPoint[];
  bOptGrid: number;
  accAtGrid: number;
  sdAtGrid: number;
  bOpt: number;
  method: 'parabola' | 'grid';
  bOptLo: number | null;
  bOptHi: number | null;
  gridLo: number;
  gridHi: number;
  interiorPeak: boolean;
  peakMargin: number;
  gOpt: number;
  gOptLo: number | null;
  gOptHi: number | null;
}

export interface StoredFitLine {
  against: string;
  groups: number;
  slope: number;
  r2: number;
  exponent: number;
  intercept: number;
  exponentLo: number | null;
  exponentHi: number | null;
  exponentBootLo: number | null;
  exponentBootHi: number | null;
  r2Log: number;
  spearman: number;
}

export interface StoredFit {
  groupParam: string | null;
  groups: readonly StoredFitGroup[];
  line: StoredFitLine | null;
  gOptMean: number | null;
  gOptCv: number | null;
}

/** SQLite stores NaN as NULL: say so explicitly. */
const finite = (x: number | null): number | null => (x !== null && Number.isFinite(x) ? x : null);

/** Replace the stored fits of a sweep. Needs a writable connection at schema v2 or later. */
export function writeFit(db: Database.Database, sweep: string, fit: StoredFit, now: number): void {
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
        spearman: finite(l.spearman),
        gOptMean: finite(fit.gOptMean),
        gOptCv: finite(fit.gOptCv),
        now,
      });
    }
  })();
}
