-- bopt schema v2: the results of `bopt fit` (src/analysis/fit.ts), replaced on every fit of a sweep.

-- One row per group of a sweep (a value of the swept eps, N or m; one group when nothing is swept).
CREATE TABLE fits (
  sweep          TEXT NOT NULL,
  group_param    TEXT,                   -- 'lr', 'n_train', 'momentum' or NULL
  group_value    REAL,                   -- value of group_param (NULL when nothing is swept)
  lr             REAL NOT NULL,
  n_train        INTEGER NOT NULL,
  momentum       REAL NOT NULL,
  seeds          INTEGER NOT NULL,
  b_opt_grid     INTEGER NOT NULL,       -- best sampled batch size (highest mean test accuracy)
  acc_at_grid    REAL NOT NULL,
  sd_at_grid     REAL NOT NULL,
  b_opt          REAL NOT NULL,          -- continuous estimate (parabola in ln B), or the grid point
  method         TEXT NOT NULL CHECK (method IN ('parabola', 'grid')),
  b_opt_lo       REAL,                   -- 95 % bootstrap interval over seeds
  b_opt_hi       REAL,
  grid_lo        INTEGER NOT NULL,       -- grid neighbours of b_opt_grid (the paper's error bar)
  grid_hi        INTEGER NOT NULL,
  interior_peak  INTEGER NOT NULL CHECK (interior_peak IN (0, 1)),
  peak_margin    REAL NOT NULL,          -- best mean minus the better end of the B grid
  g_opt          REAL NOT NULL,          -- eps (N / b_opt - 1) / (1 - m)
  g_opt_lo       REAL,
  g_opt_hi       REAL,
  created_at     INTEGER NOT NULL
);
CREATE UNIQUE INDEX fits_by_group ON fits (sweep, ifnull(group_value, -1));

-- Mean and standard deviation of the final test accuracy per group and batch size.
CREATE TABLE fit_points (
  sweep        TEXT NOT NULL,
  group_value  REAL,
  batch_size   INTEGER NOT NULL,
  mean_acc     REAL NOT NULL,
  sd_acc       REAL NOT NULL,
  runs         INTEGER NOT NULL,
  diverged     INTEGER NOT NULL,
  noise_scale  REAL NOT NULL
);
CREATE INDEX fit_points_by_sweep ON fit_points (sweep, group_value, batch_size);

-- B_opt against the swept variable, one row per sweep that sweeps one.
CREATE TABLE fit_lines (
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
  spearman         REAL NOT NULL,
  g_opt_mean       REAL,
  g_opt_cv         REAL,
  created_at       INTEGER NOT NULL
);

-- Every group with the line of its sweep.
CREATE VIEW fit_summary AS
SELECT f.sweep, f.group_param, f.group_value, f.lr, f.n_train, f.momentum, f.seeds,
       f.b_opt_grid, f.b_opt, f.b_opt_lo, f.b_opt_hi, f.method, f.acc_at_grid, f.sd_at_grid,
       f.interior_peak, f.g_opt, f.g_opt_lo, f.g_opt_hi,
       l.against, l.slope, l.r2, l.exponent, l.exponent_lo, l.exponent_hi,
       l.exponent_boot_lo, l.exponent_boot_hi
FROM fits f
LEFT JOIN fit_lines l ON l.sweep = f.sweep;
