/**
 * The science panel's numbers, computed incrementally as results arrive: mean test accuracy per
 * (group, batch size), and from those means B_opt of each group and the fit B_opt = k * x through
 * the origin (x = eps, N or 1/(1-m); paper §3-§4), both computed by src/analysis exactly as `bopt
 * fit` computes them, so the panel shows the numbers the analysis will report.
 *
 * Adding a result is O(1); summarize() is O(cells) and runs at render time only.
 */
import {
  ANALYSIS_WINDOW,
  estimateBopt,
  fitLine,
  varyingVariables,
  type BoptEstimate,
  type GroupKey,
} from '../analysis/fit.js';
import { AGAINST, SYMBOL, type SweptVariable } from '../analysis/swept.js';
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

export interface ScienceGroup extends GroupKey {
  /** The swept variable's value, or null when nothing but the batch size varies. */
  value: number | null;
  /** e.g. "eps=0.1", "N=1000", "m=0.9", "all"; each varying variable when several vary. */
  label: string;
  /** Sorted by batch size. */
  points: SciencePoint[];
  /** The best grid point: the batch size with the highest mean test accuracy. */
  bOptGrid: number;
  bestAccuracy: number;
  /** `bopt fit`'s estimate: the vertex of a parabola in log B around the best grid point, or that point. */
  bOpt: number;
  method: BoptEstimate['method'];
}

export interface ScienceFit {
  variable: SweptVariable;
  /** How x is written: "eps", "N" or "1/(1-m)". */
  xLabel: string;
  /** B_opt = slope * x, least squares through the origin. */
  slope: number;
  /** 1 - SS_res / SS_tot (centred). */
  r2: number;
  /** Slope of log B_opt against log x (the theory predicts 1). */
  exponent: number;
  groups: number;
}

export interface ScienceView {
  /** The one variable besides the batch size that varies; null when none or several do. */
  variable: SweptVariable | null;
  /** Variables that vary (more than one: no fit, as `bopt fit` refuses to fit them together). */
  varying: SweptVariable[];
  groups: ScienceGroup[];
  fit: ScienceFit | null;
  /** Results counted (finite test accuracy). */
  runs: number;
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

  /** The variables that vary, by `bopt fit`'s rule: those of lr, n_train and momentum with several values. */
  varying(): SweptVariable[] {
    return varyingVariables((v) => this.distinct[v].size);
  }

  summarize(): ScienceView {
    const varying = this.varying();
    const variable = varying.length === 1 ? varying[0]! : null;
    // group (the varying variables' values) -> batch size -> (sum, count)
    const byGroup = new Map<string, { key: GroupKey; byB: Map<number, { sum: number; count: number }> }>();
    for (const c of this.cells.values()) {
      const id = varying.map((v) => c[v]).join('|');
      let g = byGroup.get(id);
      if (!g) byGroup.set(id, (g = { key: { lr: c.lr, n_train: c.n_train, momentum: c.momentum }, byB: new Map() }));
      const p = g.byB.get(c.batchSize) ?? { sum: 0, count: 0 };
      p.sum += c.sum;
      p.count += c.count;
      g.byB.set(c.batchSize, p);
    }
    const groups: ScienceGroup[] = [];
    for (const { key, byB } of byGroup.values()) {
      const points = [...byB.entries()]
        .map(([batchSize, a]) => ({ batchSize, meanAccuracy: a.sum / a.count, runs: a.count }))
        .sort((a, b) => a.batchSize - b.batchSize);
      let best = points[0]!;
      for (const p of points) if (p.meanAccuracy > best.meanAccuracy) best = p;
      const estimate = estimateBopt(
        points.map((p) => p.batchSize),
        points.map((p) => p.meanAccuracy),
        ANALYSIS_WINDOW,
      );
      groups.push({
        ...key,
        value: variable === null ? null : key[variable],
        label: varying.length === 0 ? 'all' : varying.map((v) => `${SYMBOL[v]}=${compactNumber(key[v])}`).join(' '),
        points,
        bOptGrid: best.batchSize,
        bestAccuracy: best.meanAccuracy,
        bOpt: estimate.value,
        method: estimate.method,
      });
    }
    groups.sort((a, b) => a.lr - b.lr || a.n_train - b.n_train || a.momentum - b.momentum);
    return { variable, varying, groups, fit: variable === null ? null : fitOf(variable, groups), runs: this.runs };
  }
}

/** The line fit of `bopt fit` (src/analysis fitLine) over the groups' B_opt. */
function fitOf(variable: SweptVariable, groups: readonly ScienceGroup[]): ScienceFit | null {
  const line = fitLine(variable, groups);
  if (!line) return null;
  return {
    variable,
    xLabel: AGAINST[variable].name,
    slope: line.slope,
    r2: line.r2,
    exponent: line.exponent,
    groups: line.groups,
  };
}
