-- bopt schema v4: fit_lines.spearman may be NULL. When every group has the same B_opt the rank
-- correlation is undefined (NaN), and `bopt fit` failed storing such a fit on the NOT NULL column.
-- SQLite cannot drop a constraint in place: the table is rebuilt with its rows, and the view that
-- reads it recreated unchanged.
DROP VIEW fit_summary;

CREATE TABLE fit_lines_v4 (
  sweep            TEXT PRIMARY KEY,
  against          TEXT NOT NULL,        -- 'eps', 'N' or '1/(1-m)'
  groups           INTEGER NOT NULL,
  slope            REAL NOT NULL,        -- b_opt = slope * x (through the origin)
  r2               REAL NOT NULL,
  exponent         REAL NOT NULL,        -- ln b_opt = intercept + exponent * ln x (theory: 1)
  intercept        REAL NOT NULL,
  exponent_lo      REAL,                 -- 95 % t interval
  exponent_hi      REAL,
  exponent_boot_lo REAL,                 -- 95 % bootstrap interval over seeds
  exponent_boot_hi REAL,
  r2_log           REAL NOT NULL,
  spearman         REAL,                 -- NULL when every group has the same B_opt
  g_opt_mean       REAL,
  g_opt_cv         REAL,
  created_at       INTEGER NOT NULL
);
INSERT INTO fit_lines_v4 (sweep, against, groups, slope, r2, exponent, intercept, exponent_lo, exponent_hi,
  exponent_boot_lo, exponent_boot_hi, r2_log, spearman, g_opt_mean, g_opt_cv, created_at)
SELECT sweep, against, groups, slope, r2, exponent, intercept, exponent_lo, exponent_hi,
  exponent_boot_lo, exponent_boot_hi, r2_log, spearman, g_opt_mean, g_opt_cv, created_at
FROM fit_lines;
DROP TABLE fit_lines;
ALTER TABLE fit_lines_v4 RENAME TO fit_lines;

-- Every group with the line of its sweep.
CREATE VIEW fit_summary AS
SELECT f.sweep, f.group_param, f.group_value, f.lr, f.n_train, f.momentum, f.seeds,
       f.b_opt_grid, f.b_opt, f.b_opt_lo, f.b_opt_hi, f.method, f.acc_at_grid, f.sd_at_grid,
       f.interior_peak, f.g_opt, f.g_opt_lo, f.g_opt_hi,
       l.against, l.slope, l.r2, l.exponent, l.exponent_lo, l.exponent_hi,
       l.exponent_boot_lo, l.exponent_boot_hi
FROM fits f
LEFT JOIN fit_lines l ON l.sweep = f.sweep;
