/**
 * Writing a sweep's B_opt fit into the tables of db/migrations/002_fits.sql. The fit's shape is
 * declared here, by the fields stored (storage imports nothing above it), and src/analysis builds its
 * fit types on these; the fits of a sweep are replaced as a whole in one transaction.
 */
import type Database from 'better-sqlite3';

export interface StoredFitPoint {
  batchSize: number;
  mean: number;
  sd: number;
  n: number;
  /** Runs that diverged among n. */
  diverged: number;
  /** g = eps (N/B − 1)/(1 − m) at this B. */
  noiseScale: number;
}

export interface StoredFitGroup {
  /** Value of the swept variable (lr, n_train or momentum); null when nothing is swept. */
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
  /** 95 % parametric-bootstrap interval of the seed noise (null when no point has 2 seeds). */
  bOptLo: number | null;
  bOptHi: number | null;
  /** The grid neighbours of the best grid point (the paper's error bar). */
  gridLo: number;
  gridHi: number;
  /** Best grid point strictly inside the B grid. */
  interiorPeak: boolean;
  /** Mean accuracy at the best B minus the larger of the two end points' means. */
  peakMargin: number;
  gOpt: number;
  gOptLo: number | null;
  gOptHi: number | null;
}

export interface StoredFitLine {
  against: string;
  groups: number;
  /** B_opt = k · x (least squares through the origin). */
  slope: number;
  /** R² of the proportional fit, 1 − SS_res / SS_tot (SS_tot about the mean of B_opt). */
  r2: number;
  /** ln B_opt = a + b ln x. */
  exponent: number;
  intercept: number;
  /** 95 % t interval of b (null with < 3 groups). */
  exponentLo: number | null;
  exponentHi: number | null;
  /** 95 % bootstrap interval of b over seeds (null without bootstrap replicates). */
  exponentBootLo: number | null;
  exponentBootHi: number | null;
  /** R² of the log-log fit. */
  r2Log: number;
  /** Spearman rank correlation of B_opt with x (monotone increase → +1). */
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
