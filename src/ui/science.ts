/**
 * The science panel's numbers, computed incrementally as results arrive: mean test accuracy per
 * (group, batch size), B_opt of each group as its best grid point, and the fit B_opt = k * x through
 * the origin, where x is the swept variable (lr, n_train, or 1/(1-m) for momentum; paper §3-§4).
 *
 * Adding a result is O(1); summarize() is O(cells) and runs at render time only.
 */
import { ols } from '../analysis/fit.js';
import { AGAINST, SWEPT_VARIABLES, SYMBOL, type SweptVariable } from '../analysis/swept.js';
import { compactNumber } from './format.js';

export interface GroupParams {
  lr: number;
  n_train: number;
  momentum: number;
  batch_size: number;
}

export interface SciencePoint {
  batchSize: number;
  meanAccuracy: number;
  runs: number;
}

export interface ScienceGroup {
  /** The swept variable's value, or null when nothing but the batch size varies. */
  value: number | null;
  /** e.g. "eps=0.1", "N=1000", "m=0.9", "all". */
  label: string;
  /** Sorted by batch size. */
  points: SciencePoint[];
  /** Best grid point: the batch size with the highest mean test accuracy. */
  bOpt: number;
  bestAccuracy: number;
}

export interface ScienceFit {
  variable: SweptVariable;
  /** How x is written: "eps", "N" or "1/(1-m)". */
  xLabel: string;
  /** B_opt = slope * x, least squares through the origin. */
  slope: number;
  /** 1 - SS_res / SS_tot (centred); NaN with fewer than 3 groups or constant B_opt. */
  r2: number;
  /** Slope of log B_opt against log x (the theory predicts 1); NaN with fewer than 2 distinct x. */
  exponent: number;
  groups: number;
}

export interface ScienceView {
  variable: SweptVariable | null;
  groups: ScienceGroup[];
  fit: ScienceFit | null;
  /** Results counted (finite test accuracy). */
  runs: number;
  /** Where B_opt comes from. */
  method: 'best grid point';
}

interface Cell {
  lr: number;
  n_train: number;
  momentum: number;
  batchSize: number;
  sum: number;
  count: number;
}

export class ScienceAccumulator {
  private readonly distinct: Record<SweptVariable, Set<number>> = {
    lr: new Set(),
    n_train: new Set(),
    momentum: new Set(),
  };
  private readonly cells = new Map<string, Cell>();
  private runs = 0;

  /** Record the parameters of a task seen (started or finished): decides which variable is swept. */
  note(p: GroupParams): void {
    this.distinct.lr.add(p.lr);
    this.distinct.n_train.add(p.n_train);
    this.distinct.momentum.add(p.momentum);
  }

  /** Add `count` results whose test accuracies sum to `sum` (one result: add(p, acc)). */
  add(p: GroupParams, sum: number, count = 1): void {
    if (!Number.isFinite(sum) || count <= 0) return;
    this.note(p);
    const id = `${p.lr}|${p.n_train}|${p.momentum}|${p.batch_size}`;
    let cell = this.cells.get(id);
    if (!cell) {
      cell = { lr: p.lr, n_train: p.n_train, momentum: p.momentum, batchSize: p.batch_size, sum: 0, count: 0 };
      this.cells.set(id, cell);
    }
    cell.sum += sum;
    cell.count += count;
    this.runs += count;
  }

  /** The swept variable: of lr, n_train and momentum, the one with the most distinct values (> 1). */
  variable(): SweptVariable | null {
    let best: SweptVariable | null = null;
    for (const v of SWEPT_VARIABLES) {
      const n = this.distinct[v].size;
      if (n > 1 && (best === null || n > this.distinct[best].size)) best = v;
    }
    return best;
  }

  summarize(): ScienceView {
    const variable = this.variable();
    // group value -> batch size -> (sum, count)
    const byGroup = new Map<number | null, Map<number, { sum: number; count: number }>>();
    for (const c of this.cells.values()) {
      const value = variable === null ? null : c[variable];
      let g = byGroup.get(value);
      if (!g) byGroup.set(value, (g = new Map()));
      const p = g.get(c.batchSize) ?? { sum: 0, count: 0 };
      p.sum += c.sum;
      p.count += c.count;
      g.set(c.batchSize, p);
    }
    const groups: ScienceGroup[] = [];
    for (const [value, byB] of byGroup) {
      const points = [...byB.entries()]
        .map(([batchSize, a]) => ({ batchSize, meanAccuracy: a.sum / a.count, runs: a.count }))
        .sort((a, b) => a.batchSize - b.batchSize);
      let best = points[0]!;
      for (const p of points) if (p.meanAccuracy > best.meanAccuracy) best = p;
      groups.push({
        value,
        label: variable === null || value === null ? 'all' : `${SYMBOL[variable]}=${compactNumber(value)}`,
        points,
        bOpt: best.batchSize,
        bestAccuracy: best.meanAccuracy,
      });
    }
    groups.sort((a, b) => (a.value ?? 0) - (b.value ?? 0));
    const fit = variable === null ? null : fitBOpt(variable, groups);
    return { variable, groups, fit, runs: this.runs, method: 'best grid point' };
  }
}

/** Least-squares B_opt = k * x through the origin, its R², and the log-log exponent. */
export function fitBOpt(variable: SweptVariable, groups: ScienceGroup[]): ScienceFit | null {
  const pts = groups.filter((g) => g.value !== null).map((g) => ({ x: AGAINST[variable].x(g.value!), y: g.bOpt }));
  if (pts.length < 2) return null;
  let sxy = 0;
  let sxx = 0;
  let sy = 0;
  for (const p of pts) {
    sxy += p.x * p.y;
    sxx += p.x * p.x;
    sy += p.y;
  }
  const slope = sxx > 0 ? sxy / sxx : NaN;
  const mean = sy / pts.length;
  let ssRes = 0;
  let ssTot = 0;
  for (const p of pts) {
    ssRes += (p.y - slope * p.x) ** 2;
    ssTot += (p.y - mean) ** 2;
  }
  const r2 = pts.length >= 3 && ssTot > 0 ? 1 - ssRes / ssTot : NaN;
  // log-log ordinary least squares: the same regression `bopt fit` uses
  const logs = pts.filter((p) => p.x > 0 && p.y > 0);
  const exponent =
    logs.length >= 2
      ? ols(
          logs.map((p) => Math.log(p.x)),
          logs.map((p) => Math.log(p.y)),
        ).b
      : NaN;
  return { variable, xLabel: AGAINST[variable].name, slope, r2, exponent, groups: pts.length };
}
