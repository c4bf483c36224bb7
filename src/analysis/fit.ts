/**
 * B_opt analysis (paper §4–5, Figures 4–7, and what §5 asks beyond the paper).
 *
 *  - Runs are grouped by the swept variable (lr = eps, n_train = N or momentum = m; the one that takes
 *    several values besides batch_size and seed). Per group and batch size: mean ± sd of the final test
 *    accuracy across seeds (a diverged run counts with the accuracy its weights give).
 *  - B_opt: the best grid point, and a continuous estimate: a least-squares parabola in log B through
 *    the best point and up to `window` neighbours on each side; its vertex when the parabola opens
 *    downwards, clamped to the fitted window; the grid point otherwise (flagged).
 *  - Uncertainty: a parametric bootstrap of the seed-to-seed noise. Each point's mean is redrawn from
 *    a normal with its standard error (its own seed variance, floored by the group's pooled one) and
 *    B_opt re-estimated; the percentile interval of log B_opt. Resampling whole seeds instead gives
 *    only a handful of distinct replicates with 2-3 seeds (intervals like [51.9, 52]) and cannot use
 *    a search's points, which have different numbers of seeds. Treating the points as independent
 *    ignores that a seed's runs share a training subset, which widens the interval (conservative).
 *    The paper's own error bar (best B to its grid neighbours) too.
 *  - Across groups: B_opt against x = eps, N or 1/(1−m): proportional fit B = k·x with its R², and the
 *    log-log exponent (OLS slope of ln B_opt on ln x; theory 1) with a t interval and a bootstrap
 *    interval (replicate r of every group together). g_opt = eps (N/B_opt − 1)/(1 − m) per group.
 */
import type { StoredFitGroup, StoredFitLine, StoredFitPoint } from '../storage/store.js';
import { AGAINST, SWEPT_VARIABLES, type SweptVariable } from './swept.js';

export interface RunRow {
  task_key?: string;
  lr: number;
  batch_size: number;
  n_train: number;
  momentum: number;
  seed: number;
  steps?: number;
  l2?: number;
  labels?: string;
  dataset?: string;
  model?: string;
  test_accuracy: number | null;
  test_loss?: number | null;
  train_accuracy?: number | null;
  train_loss?: number | null;
  diverged?: number | boolean;
  noise_scale?: number | null;
  log_evidence?: number | null;
  log_evidence_per_example?: number | null;
}

export interface GroupKey {
  lr: number;
  n_train: number;
  momentum: number;
}

/** One batch size of a group: mean ± sd of the final test accuracy over its seeds (declared by storage). */
export type BatchPoint = StoredFitPoint;

export interface BoptEstimate {
  /** Continuous estimate (parabola vertex in log B), or the grid point. */
  value: number;
  method: 'parabola' | 'grid';
}

/** One group's B_opt fit: the stored fields (see StoredFitGroup) plus the bootstrap replicates. */
export interface GroupFit extends StoredFitGroup {
  points: BatchPoint[];
  /** Bootstrap replicates of B_opt (not serialised by default). */
  replicates?: number[];
}

/** The fit of B_opt against the swept variable across groups (the stored fields, see StoredFitLine). */
export type LineFit = StoredFitLine;

export interface SweepFit {
  groupParam: SweptVariable | null;
  groups: GroupFit[];
  line: LineFit | null;
  /** g_opt across groups: mean and coefficient of variation (theory: constant). */
  gOptMean: number | null;
  gOptCv: number | null;
}

/**
 * The parabola window of the reported analysis (`bopt fit`, `bopt report`, the live science panel):
 * one neighbour each side, not fitGroup's default 2. Measured on fig4-quick, accuracy collapses
 * steeply below B_opt (B = 5: 0.35, B = 22: 0.91), and a 5-point window lets that cliff drag the
 * vertex to the far neighbour (42 for a grid best of 22, with a falsely tight interval).
 */
export const ANALYSIS_WINDOW = 1;

/** What the line fit needs of a group: its parameters, its B_opt and (optionally) bootstrap replicates. */
export interface LineGroup extends GroupKey {
  bOpt: number;
  replicates?: number[];
}

export interface FitOptions {
  /** Neighbours on each side of the best grid point used by the parabola (default 2). */
  window?: number;
  /** Bootstrap resamples (default 1000; 0 disables). */
  bootstrap?: number;
  /** Seed of the bootstrap's generator (results are reproducible). */
  seed?: number;
}

// ---------------------------------------------------------------------------------------------------
// Small statistics

export function mean(xs: readonly number[]): number {
  let s = 0;
  for (const x of xs) s += x;
  return xs.length ? s / xs.length : NaN;
}

/** Sample standard deviation (n − 1); 0 for a single value. */
export function sd(xs: readonly number[]): number {
  if (xs.length < 2) return 0;
  const m = mean(xs);
  let s = 0;
  for (const x of xs) s += (x - m) ** 2;
  return Math.sqrt(s / (xs.length - 1));
}

export function quantile(sorted: readonly number[], q: number): number {
  if (!sorted.length) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** Two-sided 97.5 % quantile of Student's t. */
export function t975(df: number): number {
  const table = [
    NaN,
    12.706,
    4.303,
    3.182,
    2.776,
    2.571,
    2.447,
    2.365,
    2.306,
    2.262,
    2.228,
    2.201,
    2.179,
    2.16,
    2.145,
    2.131,
    2.12,
    2.11,
    2.101,
    2.093,
    2.086,
  ];
  if (df < 1) return NaN;
  if (df < table.length) return table[df];
  if (df <= 30) return 2.042 + ((30 - df) / 10) * (2.086 - 2.042);
  return 1.96 + 2.4 / df; // within 0.005 of the exact quantile for df > 30
}

/** mulberry32: small, seeded, good enough for resampling. */
export function rng32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Least squares y = c0 + c1 x + c2 x² (normal equations, 3 × 3 solved by Cramer's rule). */
export function fitQuadratic(xs: readonly number[], ys: readonly number[]): [number, number, number] | null {
  const n = xs.length;
  if (n < 3) return null;
  // Centre x for conditioning.
  const xm = mean(xs);
  let s0 = 0,
    s1 = 0,
    s2 = 0,
    s3 = 0,
    s4 = 0,
    t0 = 0,
    t1 = 0,
    t2 = 0;
  for (let i = 0; i < n; i++) {
    const x = xs[i] - xm;
    const y = ys[i];
    s0 += 1;
    s1 += x;
    s2 += x * x;
    s3 += x ** 3;
    s4 += x ** 4;
    t0 += y;
    t1 += x * y;
    t2 += x * x * y;
  }
  const det3 = (a: number[]): number =>
    a[0] * (a[4] * a[8] - a[5] * a[7]) - a[1] * (a[3] * a[8] - a[5] * a[6]) + a[2] * (a[3] * a[7] - a[4] * a[6]);
  const M = [s0, s1, s2, s1, s2, s3, s2, s3, s4];
  const D = det3(M);
  if (!Number.isFinite(D) || Math.abs(D) < 1e-14) return null;
  const a0 = det3([t0, s1, s2, t1, s2, s3, t2, s3, s4]) / D;
  const a1 = det3([s0, t0, s2, s1, t1, s3, s2, t2, s4]) / D;
  const a2 = det3([s0, s1, t0, s1, s2, t1, s2, s3, t2]) / D;
  // Un-centre: y = a0 + a1 (x − xm) + a2 (x − xm)².
  return [a0 - a1 * xm + a2 * xm * xm, a1 - 2 * a2 * xm, a2];
}

/** Pearson correlation. */
export function pearson(xs: readonly number[], ys: readonly number[]): number {
  const mx = mean(xs);
  const my = mean(ys);
  let sxy = 0,
    sxx = 0,
    syy = 0;
  for (let i = 0; i < xs.length; i++) {
    sxy += (xs[i] - mx) * (ys[i] - my);
    sxx += (xs[i] - mx) ** 2;
    syy += (ys[i] - my) ** 2;
  }
  return sxy / Math.sqrt(sxx * syy);
}

function ranks(xs: readonly number[]): number[] {
  const order = xs.map((x, i) => [x, i] as const).sort((a, b) => a[0] - b[0]);
  const r = new Array<number>(xs.length);
  for (let i = 0; i < order.length;) {
    let j = i;
    while (j + 1 < order.length && order[j + 1][0] === order[i][0]) j++;
    for (let k = i; k <= j; k++) r[order[k][1]] = (i + j) / 2 + 1;
    i = j + 1;
  }
  return r;
}

export function spearman(xs: readonly number[], ys: readonly number[]): number {
  return pearson(ranks(xs), ranks(ys));
}

/** OLS y = a + b x with the standard error of b. */
export function ols(xs: readonly number[], ys: readonly number[]): { a: number; b: number; seB: number; r2: number } {
  const n = xs.length;
  const mx = mean(xs);
  const my = mean(ys);
  let sxx = 0,
    sxy = 0,
    syy = 0;
  for (let i = 0; i < n; i++) {
    sxx += (xs[i] - mx) ** 2;
    sxy += (xs[i] - mx) * (ys[i] - my);
    syy += (ys[i] - my) ** 2;
  }
  const b = sxy / sxx;
  const a = my - b * mx;
  let sse = 0;
  for (let i = 0; i < n; i++) sse += (ys[i] - a - b * xs[i]) ** 2;
  const seB = n > 2 ? Math.sqrt(sse / (n - 2) / sxx) : NaN;
  return { a, b, seB, r2: syy > 0 ? 1 - sse / syy : 1 };
}

// ---------------------------------------------------------------------------------------------------
// B_opt of one group

export const noiseScale = (lr: number, n: number, b: number, m: number): number => (lr * (n / b - 1)) / (1 - m);

/**
 * Continuous B_opt from the mean accuracy at each grid B (sorted by B): a parabola in ln B through
 * the best point and `window` neighbours each side.
 */
export function estimateBopt(batchSizes: readonly number[], means: readonly number[], window = 2): BoptEstimate {
  let best = 0;
  for (let i = 1; i < means.length; i++) if (means[i] > means[best]) best = i;
  const lo = Math.max(0, best - window);
  const hi = Math.min(means.length - 1, best + window);
  const xs: number[] = [];
  const ys: number[] = [];
  for (let i = lo; i <= hi; i++) {
    xs.push(Math.log(batchSizes[i]));
    ys.push(means[i]);
  }
  // A peak at an end of the grid has no vertex to find.
  if (best === 0 || best === means.length - 1 || xs.length < 3) return { value: batchSizes[best], method: 'grid' };
  const c = fitQuadratic(xs, ys);
  if (!c || !(c[2] < 0)) return { value: batchSizes[best], method: 'grid' };
  const vertex = -c[1] / (2 * c[2]);
  const clamped = Math.min(Math.max(vertex, xs[0]), xs[xs.length - 1]);
  return { value: Math.exp(clamped), method: 'parabola' };
}

type Acc = Map<number, Map<number, number>>; // batch → seed → accuracy

function groupPoints(
  rows: readonly RunRow[],
  key: GroupKey,
): { acc: Acc; batches: number[]; seeds: number[]; diverged: Map<number, number> } {
  const acc: Acc = new Map();
  const diverged = new Map<number, number>();
  const seedSet = new Set<number>();
  for (const r of rows) {
    if (r.test_accuracy === null || !Number.isFinite(r.test_accuracy)) continue;
    let m = acc.get(r.batch_size);
    if (!m) acc.set(r.batch_size, (m = new Map()));
    m.set(r.seed, r.test_accuracy);
    seedSet.add(r.seed);
    if (r.diverged) diverged.set(r.batch_size, (diverged.get(r.batch_size) ?? 0) + 1);
  }
  void key;
  return { acc, batches: [...acc.keys()].sort((a, b) => a - b), seeds: [...seedSet].sort((a, b) => a - b), diverged };
}

/** Standard normal deviate (Box-Muller) from a uniform generator. */
function gaussian(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(rand() + 1e-300)) * Math.cos(2 * Math.PI * rand());
}

/**
 * Standard error of each point's mean accuracy: its own seed variance, floored by the variance pooled
 * over the group's points with two or more seeds (two or three seeds can agree by chance, and a
 * one-seed point has no variance of its own). Null when no point has two seeds.
 */
export function pointNoise(points: readonly BatchPoint[]): number[] | null {
  let ss = 0;
  let df = 0;
  for (const p of points) {
    if (p.n < 2) continue;
    ss += p.sd ** 2 * (p.n - 1);
    df += p.n - 1;
  }
  if (df === 0) return null;
  const pooled = ss / df;
  return points.map((p) => Math.sqrt(Math.max(p.n > 1 ? p.sd ** 2 : 0, pooled) / p.n));
}

export function fitGroup(
  rows: readonly RunRow[],
  key: GroupKey,
  groupValue: number | null,
  options: FitOptions = {},
): GroupFit {
  const window = options.window ?? 2;
  const nBoot = options.bootstrap ?? 1000;
  const { acc, batches, seeds, diverged } = groupPoints(rows, key);
  if (batches.length === 0) throw new Error('no finished runs in this group');
  const points: BatchPoint[] = batches.map((b) => {
    const vals = [...acc.get(b)!.values()];
    return {
      batchSize: b,
      mean: mean(vals),
      sd: sd(vals),
      n: vals.length,
      diverged: diverged.get(b) ?? 0,
      noiseScale: noiseScale(key.lr, key.n_train, b, key.momentum),
    };
  });
  const means = points.map((p) => p.mean);
  let best = 0;
  for (let i = 1; i < means.length; i++) if (means[i] > means[best]) best = i;
  const est = estimateBopt(batches, means, window);

  let bOptLo: number | null = null;
  let bOptHi: number | null = null;
  let replicates: number[] | undefined;
  const noise = pointNoise(points);
  if (noise && nBoot > 0) {
    const rand = rng32(options.seed ?? 12345);
    replicates = [];
    for (let r = 0; r < nBoot; r++) {
      const m = means.map((v, i) => v + noise[i] * gaussian(rand));
      replicates.push(estimateBopt(batches, m, window).value);
    }
    const logs = replicates.map(Math.log).sort((a, b) => a - b);
    bOptLo = Math.exp(quantile(logs, 0.025));
    bOptHi = Math.exp(quantile(logs, 0.975));
  }
  const ends = Math.max(means[0], means[means.length - 1]);
  const g = (b: number): number => noiseScale(key.lr, key.n_train, b, key.momentum);
  return {
    ...key,
    groupValue,
    seeds: seeds.length,
    points,
    bOptGrid: batches[best],
    accAtGrid: means[best],
    sdAtGrid: points[best].sd,
    bOpt: est.value,
    method: est.method,
    bOptLo,
    bOptHi,
    gridLo: batches[Math.max(0, best - 1)],
    gridHi: batches[Math.min(batches.length - 1, best + 1)],
    interiorPeak: best > 0 && best < batches.length - 1,
    peakMargin: means[best] - ends,
    gOpt: g(est.value),
    // g decreases with B: the interval's ends swap.
    gOptLo: bOptHi === null ? null : g(bOptHi),
    gOptHi: bOptLo === null ? null : g(bOptLo),
    replicates,
  };
}

// ---------------------------------------------------------------------------------------------------
// Across groups

/** The variables (among lr, n_train, momentum) that take several values, given how many each takes. */
export function varyingVariables(distinctValues: (variable: SweptVariable) => number): SweptVariable[] {
  return SWEPT_VARIABLES.filter((v) => distinctValues(v) > 1);
}

/** The parameter (among lr, n_train, momentum) that takes several values; null if none. */
export function sweptParameter(rows: readonly RunRow[]): SweptVariable | null {
  const varying = varyingVariables((p) => new Set(rows.map((r) => r[p])).size);
  if (varying.length > 1) {
    throw new Error(`more than one of lr, n_train, momentum varies (${varying.join(', ')}): fit one at a time`);
  }
  return varying[0] ?? null;
}

/** B_opt of the groups against x = eps, N or 1/(1-m): the proportional fit and the log-log exponent. */
export function fitLine(groupParam: SweptVariable, groups: readonly LineGroup[]): LineFit | null {
  const usable = groups.filter((g) => g.bOpt > 0);
  if (usable.length < 2) return null;
  const xs = usable.map((g) => AGAINST[groupParam].x(g[groupParam]));
  const ys = usable.map((g) => g.bOpt);
  let sxy = 0,
    sxx = 0;
  for (let i = 0; i < xs.length; i++) {
    sxy += xs[i] * ys[i];
    sxx += xs[i] * xs[i];
  }
  const k = sxy / sxx;
  const my = mean(ys);
  let ssr = 0,
    sst = 0;
  for (let i = 0; i < xs.length; i++) {
    ssr += (ys[i] - k * xs[i]) ** 2;
    sst += (ys[i] - my) ** 2;
  }
  const lx = xs.map(Math.log);
  const ly = ys.map(Math.log);
  const o = ols(lx, ly);
  const df = xs.length - 2;
  const half = df >= 1 ? t975(df) * o.seB : NaN;
  let bootLo: number | null = null;
  let bootHi: number | null = null;
  const reps = usable.map((g) => g.replicates);
  if (reps.every((r) => r && r.length > 0)) {
    const R = Math.min(...reps.map((r) => r!.length));
    const slopes: number[] = [];
    for (let r = 0; r < R; r++) {
      const yr = reps.map((rep) => Math.log(rep![r]));
      const s = ols(lx, yr).b;
      if (Number.isFinite(s)) slopes.push(s);
    }
    slopes.sort((a, b) => a - b);
    if (slopes.length) {
      bootLo = quantile(slopes, 0.025);
      bootHi = quantile(slopes, 0.975);
    }
  }
  return {
    against: AGAINST[groupParam].name,
    groups: usable.length,
    slope: k,
    r2: sst > 0 ? 1 - ssr / sst : 1,
    exponent: o.b,
    intercept: o.a,
    exponentLo: Number.isFinite(half) ? o.b - half : null,
    exponentHi: Number.isFinite(half) ? o.b + half : null,
    exponentBootLo: bootLo,
    exponentBootHi: bootHi,
    r2Log: o.r2,
    spearman: spearman(xs, ys),
  };
}

export function groupKeyOf(r: RunRow): GroupKey {
  return { lr: r.lr, n_train: r.n_train, momentum: r.momentum };
}

/** The whole B_opt analysis of one sweep's runs. */
export function fitSweep(rows: readonly RunRow[], options: FitOptions = {}): SweepFit {
  const groupParam = sweptParameter(rows);
  const byGroup = new Map<string, RunRow[]>();
  for (const r of rows) {
    const k = JSON.stringify(groupKeyOf(r));
    let list = byGroup.get(k);
    if (!list) byGroup.set(k, (list = []));
    list.push(r);
  }
  const groups = [...byGroup.values()]
    .map((list) => {
      const key = groupKeyOf(list[0]);
      return fitGroup(list, key, groupParam ? key[groupParam] : null, options);
    })
    .sort((a, b) => (a.groupValue ?? 0) - (b.groupValue ?? 0));
  const line = groupParam ? fitLine(groupParam, groups) : null;
  const gs = groups.map((g) => g.gOpt).filter((g) => Number.isFinite(g) && g > 0);
  const gm = gs.length ? mean(gs) : null;
  return {
    groupParam,
    groups,
    line,
    gOptMean: gm,
    gOptCv: gm !== null && gs.length > 1 ? sd(gs) / gm : null,
  };
}

/**
 * The collapse (paper §4): accuracy as a function of ln g should be one curve for every group.
 * Compares the R² of one pooled quadratic in ln g with one pooled quadratic in ln B: a collapse makes
 * the first high and the second lower when groups differ.
 */
export function collapseScore(
  rows: readonly RunRow[],
): { r2NoiseScale: number; r2BatchSize: number; runs: number } | null {
  const ok = rows.filter(
    (r) => r.test_accuracy !== null && Number.isFinite(r.test_accuracy) && r.batch_size < r.n_train,
  );
  if (ok.length < 4) return null;
  const r2 = (xs: number[]): number => {
    const ys = ok.map((r) => r.test_accuracy as number);
    const c = fitQuadratic(xs, ys);
    if (!c) return NaN;
    const my = mean(ys);
    let ssr = 0,
      sst = 0;
    for (let i = 0; i < xs.length; i++) {
      ssr += (ys[i] - (c[0] + c[1] * xs[i] + c[2] * xs[i] ** 2)) ** 2;
      sst += (ys[i] - my) ** 2;
    }
    return sst > 0 ? 1 - ssr / sst : 1;
  };
  return {
    r2NoiseScale: r2(ok.map((r) => Math.log(noiseScale(r.lr, r.n_train, r.batch_size, r.momentum)))),
    r2BatchSize: r2(ok.map((r) => Math.log(r.batch_size))),
    runs: ok.length,
  };
}
