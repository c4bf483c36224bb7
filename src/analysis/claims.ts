/**
 * The claims of Smith & Le (ICLR 2018, §2–4) checked against a sweep's runs: each gives a verdict (holds,
 * does not hold, inconclusive) and the numbers behind it. Used by `bopt fit` (the evidence table of
 * logistic-regression sweeps) and `bopt report`.
 */
import type { CurveRow } from './data.js';
import {
  collapseScore,
  fitLine,
  mean,
  ols,
  pearson,
  sd,
  type GroupFit,
  type LineFit,
  type RunRow,
  type SweepFit,
} from './fit.js';
import { AGAINST } from './swept.js';

export type Verdict = 'holds' | 'does not hold' | 'inconclusive';

export interface Claim {
  claim: string;
  verdict: Verdict;
  evidence: string;
}

/** Mean over seeds per (dataset, labels, l2) of a logistic-regression sweep. */
export interface EvidencePoint {
  dataset: string;
  labels: string;
  n_train: number;
  l2: number;
  /** The paper's lambda = N · l2 (l2 is on the mean loss in the engines). */
  lambda: number;
  runs: number;
  trainAccuracy: number;
  testAccuracy: number;
  trainLoss: number;
  testLoss: number;
  evidence: number;
  evidenceSd: number;
  evidencePerExample: number;
}

export const isLogregSweep = (rows: readonly RunRow[]): boolean =>
  rows.length > 0 && rows.every((r) => r.model === 'logreg');

const nums = (xs: (number | null | undefined)[]): number[] =>
  xs.filter((x): x is number => typeof x === 'number' && Number.isFinite(x));

export function evidencePoints(rows: readonly RunRow[]): EvidencePoint[] {
  const by = new Map<string, RunRow[]>();
  for (const r of rows) {
    const k = JSON.stringify([r.dataset, r.labels, r.n_train, r.l2]);
    let l = by.get(k);
    if (!l) by.set(k, (l = []));
    l.push(r);
  }
  const out: EvidencePoint[] = [];
  for (const list of by.values()) {
    const r0 = list[0];
    const e = nums(list.map((r) => r.log_evidence));
    out.push({
      dataset: String(r0.dataset),
      labels: String(r0.labels),
      n_train: r0.n_train,
      l2: r0.l2 ?? 0,
      lambda: (r0.l2 ?? 0) * r0.n_train,
      runs: list.length,
      trainAccuracy: mean(nums(list.map((r) => r.train_accuracy))),
      testAccuracy: mean(nums(list.map((r) => r.test_accuracy))),
      trainLoss: mean(nums(list.map((r) => r.train_loss))),
      testLoss: mean(nums(list.map((r) => r.test_loss))),
      evidence: e.length ? mean(e) : NaN,
      evidenceSd: sd(e),
      evidencePerExample: mean(nums(list.map((r) => r.log_evidence_per_example))),
    });
  }
  return out.sort((a, b) => a.dataset.localeCompare(b.dataset) || a.labels.localeCompare(b.labels) || a.l2 - b.l2);
}

const f3 = (x: number): string => (Number.isFinite(x) ? Number(x.toPrecision(3)).toString() : 'n/a');

function argmin(xs: readonly number[]): number {
  let b = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i] < xs[b]) b = i;
  return b;
}

/** Figures 1–2: memorisation, the sign of E, and where E and the test cross-entropy are smallest. */
export function evidenceClaims(rows: readonly RunRow[]): Claim[] {
  const points = evidencePoints(rows).filter((p) => p.l2 > 0);
  const claims: Claim[] = [];
  const datasets = [...new Set(points.map((p) => p.dataset))];
  for (const ds of datasets) {
    const rnd = points.filter((p) => p.dataset === ds && p.labels === 'random');
    const tru = points.filter((p) => p.dataset === ds && p.labels === 'true');
    if (rnd.length) {
      const p = rnd[0]; // smallest l2
      const memorised = p.trainAccuracy >= 0.999;
      const chance = Math.abs(p.testAccuracy - 0.5) <= 0.05;
      claims.push({
        claim: `${ds}: weakly regularised, random labels are memorised (train accuracy 1.0) with chance test accuracy`,
        verdict: memorised && chance ? 'holds' : 'does not hold',
        evidence:
          `at l2 ${f3(p.l2)} (lambda ${f3(p.lambda)}): train accuracy ${f3(p.trainAccuracy)}, ` +
          `test accuracy ${f3(p.testAccuracy)} (chance 0.5), ${p.runs} seeds`,
      });
      const minE = Math.min(...rnd.map((q) => q.evidence));
      claims.push({
        claim: `${ds}: with random labels E > 0 at every lambda (the null model is preferred)`,
        // |E| < 1 nat is "not worth more than a bare mention" (Jeffreys): a slightly negative E where the
        // model has shrunk to the null (large lambda; the bias fits an unbalanced random labelling) is a tie.
        verdict: minE > 0 ? 'holds' : minE > -1 ? 'inconclusive' : 'does not hold',
        evidence:
          `min over ${rnd.length} lambdas of mean E = ${f3(minE)} nats ` +
          `(E/N ${f3(Math.min(...rnd.map((q) => q.evidencePerExample)))})` +
          (minE <= 0 && minE > -1 ? '; |E| < 1 nat is a tie with the null model' : ''),
      });
    }
    if (tru.length) {
      const i = argmin(tru.map((q) => q.evidence));
      const p = tru[i];
      claims.push({
        claim: `${ds}: with true labels E < 0 at some lambda`,
        verdict: p.evidence < 0 ? 'holds' : 'does not hold',
        evidence:
          `min mean E = ${f3(p.evidence)} (E/N ${f3(p.evidencePerExample)}) at l2 ${f3(p.l2)}, ` +
          `test accuracy there ${f3(p.testAccuracy)}`,
      });
    }
    for (const [name, series] of [
      ['true', tru],
      ['random', rnd],
    ] as const) {
      if (series.length < 3) continue;
      const iE = argmin(series.map((q) => q.evidence));
      const iC = argmin(series.map((q) => q.testLoss));
      const atEdge = (i: number): boolean => i === 0 || i === series.length - 1;
      const r = pearson(
        series.map((q) => q.evidencePerExample),
        series.map((q) => q.testLoss),
      );
      const close = Math.abs(iE - iC) <= 1;
      claims.push({
        claim: `${ds}, ${name} labels: argmin E within one grid step of argmin test cross-entropy`,
        verdict: close ? (atEdge(iE) && atEdge(iC) ? 'inconclusive' : 'holds') : 'does not hold',
        evidence:
          `argmin E at l2 ${f3(series[iE].l2)}, argmin test CE at l2 ${f3(series[iC].l2)} (${Math.abs(iE - iC)} grid steps apart` +
          `${atEdge(iE) && atEdge(iC) ? '; both at the end of the grid' : ''}); Pearson r(E/N, test CE) over lambda = ${f3(r)}`,
      });
    }
  }
  return claims;
}

/**
 * The log-log exponent of B_opt against the swept variable is 1: holds when the 95 % interval contains 1
 * and is narrower than 1. The interval is the union of the t and the bootstrap intervals: with 2-3 seeds
 * a bootstrap over seeds has only a handful of distinct resamples and is far too narrow; with 3 groups
 * the t interval has 1 df.
 */
function proportionalClaim(fit: SweepFit, l: LineFit, claim: string, withGrid: boolean): Claim {
  const los = [l.exponentLo, l.exponentBootLo].filter((x): x is number => x !== null);
  const his = [l.exponentHi, l.exponentBootHi].filter((x): x is number => x !== null);
  const lo = los.length ? Math.min(...los) : null;
  const hi = his.length ? Math.max(...his) : null;
  const gridExp = withGrid && fit.groups.length >= 2 ? gridExponent(fit) : NaN;
  return {
    claim,
    verdict:
      lo === null || hi === null
        ? 'inconclusive'
        : lo <= 1 && 1 <= hi
          ? hi - lo < 1
            ? 'holds'
            : 'inconclusive'
          : 'does not hold',
    evidence:
      `exponent ${f3(l.exponent)}${lo !== null && hi !== null ? `, 95 % t ∪ bootstrap interval [${f3(lo)}, ${f3(hi)}]` : ''}; ` +
      `proportional fit B_opt = ${f3(l.slope)} x ${l.against}, R² ${f3(l.r2)}; log-log R² ${f3(l.r2Log)}` +
      (withGrid ? `; exponent of the best GRID points ${f3(gridExp)}` : ''),
  };
}

/** Train accuracy from which a run counts as having fitted its training set. */
const FITTED_TRAIN_ACCURACY = 0.999;

/**
 * Why a peak may not be a noise optimum: the batch size just below it did not fit the training set
 * while the peak did. A fixed number of updates gives a small batch few epochs (fig6-search at
 * N = 50,000: B = 44 trains 8.8 epochs in 10,000 updates, train accuracy 0.995), so the left flank
 * can be under-training rather than too much noise, and B_opt then marks the smallest batch that
 * converges in the budget. Only longer training tells the two apart; this says where to look.
 */
export function underTrainedFlank(rows: readonly RunRow[], g: GroupFit): string | null {
  const best = g.points.findIndex((p) => p.batchSize === g.bOptGrid);
  if (best <= 0) return null;
  const below = g.points[best - 1].batchSize;
  const inGroup = (r: RunRow, b: number): boolean =>
    r.batch_size === b && r.lr === g.lr && r.n_train === g.n_train && r.momentum === g.momentum;
  const trainAccuracy = (b: number): number =>
    mean(nums(rows.filter((r) => inGroup(r, b)).map((r) => r.train_accuracy)));
  const atBelow = trainAccuracy(below);
  const atBest = trainAccuracy(g.bOptGrid);
  if (!(atBest >= FITTED_TRAIN_ACCURACY) || !(atBelow < FITTED_TRAIN_ACCURACY)) return null;
  const steps = rows.find((r) => inGroup(r, below))?.steps;
  const epochs = steps === undefined ? '' : `, ${f3((steps * Math.min(below, g.n_train)) / g.n_train)} epochs`;
  return (
    `B = ${below} below it has not fitted the training set (train accuracy ${f3(atBelow)}${epochs}): ` +
    'the left flank may be under-training, not noise; longer training tells'
  );
}

/** Figures 4–7 and the collapse. */
export function boptClaims(rows: readonly RunRow[], fit: SweepFit): Claim[] {
  const claims: Claim[] = [];
  for (const g of fit.groups) {
    const label = fit.groupParam ? `${fit.groupParam} = ${g.groupValue}` : 'the sweep';
    const se = g.sdAtGrid / Math.sqrt(Math.max(1, g.seeds));
    const verdict: Verdict = !g.interiorPeak ? 'does not hold' : g.peakMargin > 2 * se ? 'holds' : 'inconclusive';
    const flank = underTrainedFlank(rows, g);
    claims.push({
      claim: `${label}: test accuracy has an interior peak in B`,
      verdict,
      evidence:
        `best B ${g.bOptGrid} of ${g.points[0].batchSize}..${g.points[g.points.length - 1].batchSize}: ` +
        `accuracy ${f3(g.accAtGrid)} ± ${f3(g.sdAtGrid)} (sd, ${g.seeds} seeds), ${f3(g.peakMargin)} above the better end` +
        (flank ? `; ${flank}` : ''),
    });
  }
  const l = fit.line;
  if (fit.groupParam && l) {
    claims.push({
      claim: `B_opt increases with ${l.against}`,
      verdict: l.spearman > 0.999 ? 'holds' : l.spearman > 0 ? 'inconclusive' : 'does not hold',
      evidence:
        `B_opt = ${fit.groups.map((g) => f3(g.bOpt)).join(', ')} at ` +
        `${fit.groupParam} = ${fit.groups.map((g) => g.groupValue).join(', ')}; Spearman ${f3(l.spearman)}`,
    });
    claims.push(proportionalClaim(fit, l, `B_opt proportional to ${l.against} (log-log exponent 1)`, true));
    // A group whose best B is an end of its measured range gives a bound, not an estimate (fig7-search:
    // m = 0.9 peaks at the full batch; fig5-search: eps = 3 diverges at every B). The same claim over
    // the groups with an interior peak says whether those ends are what bends the exponent.
    const interior = fit.groups.filter((g) => g.interiorPeak);
    const interiorLine = interior.length < fit.groups.length ? fitLine(fit.groupParam, interior) : null;
    if (interiorLine) {
      const left = fit.groups.filter((g) => !g.interiorPeak).map((g) => `${fit.groupParam} = ${g.groupValue}`);
      claims.push(
        proportionalClaim(
          { ...fit, groups: interior },
          interiorLine,
          `B_opt proportional to ${l.against} over the ${interior.length} groups with an interior peak ` +
            `(without ${left.join(', ')})`,
          false,
        ),
      );
    }
    // The paper claims equal peak accuracy only across eps (and m): more data (N) raises the peak.
    if (fit.groupParam !== 'n_train') {
      const accs = fit.groups.map((g) => g.accAtGrid);
      const spread = Math.max(...accs) - Math.min(...accs);
      claims.push({
        claim: 'the peak accuracy is about the same in every group',
        verdict: spread <= 0.02 ? 'holds' : 'does not hold',
        evidence: `peak accuracies ${accs.map(f3).join(', ')}: spread ${f3(spread)} (threshold 0.02)`,
      });
    }
    // Likewise the collapse onto g compares runs on one training set; across N the accuracy also grows with N.
    const c = fit.groupParam === 'n_train' ? null : collapseScore(rows);
    if (c) {
      claims.push({
        claim: 'collapse: test accuracy is one function of the noise scale g',
        verdict:
          c.r2NoiseScale >= 0.5 && c.r2NoiseScale > c.r2BatchSize + 0.05
            ? 'holds'
            : c.r2NoiseScale > c.r2BatchSize
              ? 'inconclusive'
              : 'does not hold',
        evidence:
          `R² of one quadratic in ln g ${f3(c.r2NoiseScale)} vs in ln B ${f3(c.r2BatchSize)} (${c.runs} runs with B < N); ` +
          `g_opt = ${fit.groups.map((g) => f3(g.gOpt)).join(', ')} (cv ${f3(fit.gOptCv ?? NaN)})`,
      });
    }
  }
  return claims;
}

/** Log-log slope of the best grid B against the swept variable (no parabola). */
export function gridExponent(fit: SweepFit): number {
  const swept = fit.groupParam;
  if (!swept) return NaN;
  return ols(
    fit.groups.map((g) => Math.log(AGAINST[swept].x(g[swept]))),
    fit.groups.map((g) => Math.log(g.bOptGrid)),
  ).b;
}

/**
 * Figures 3 and 8: a small batch against the full batch, with curves. Without L2 the paper finds a
 * clear test-accuracy gap in favour of the small batch and test cross-entropies that rise again
 * (over-fitting); with L2 (Figure 8) the gap largely closes.
 */
export function curveClaims(rows: readonly RunRow[], curves: readonly CurveRow[]): Claim[] {
  const sizes = [...new Set(rows.map((r) => r.batch_size))].sort((a, b) => a - b);
  if (sizes.length !== 2) return [];
  const [small, large] = sizes as [number, number];
  const finals = (b: number): number[] => nums(rows.filter((r) => r.batch_size === b).map((r) => r.test_accuracy));
  const a = finals(small);
  const z = finals(large);
  if (a.length === 0 || z.length === 0) return [];
  const gap = mean(a) - mean(z);
  // Noise of the difference of two means; with one seed each there is none to go by.
  const noise = Math.sqrt((a.length > 1 ? sd(a) ** 2 / a.length : 0) + (z.length > 1 ? sd(z) ** 2 / z.length : 0));
  const clear = Math.max(2 * noise, 0.005);
  const l2 = Math.max(...rows.map((r) => r.l2 ?? 0));
  const numbers =
    `final test accuracy B = ${small}: ${f3(mean(a))}, B = ${large}: ${f3(mean(z))} ` +
    `(gap ${f3(gap)}, noise ±${f3(noise)}, ${a.length}+${z.length} runs)`;
  const claims: Claim[] = [];
  if (l2 === 0) {
    claims.push({
      claim: `small batch (B = ${small}) generalises better than full batch (B = ${large})`,
      verdict: gap > clear ? 'holds' : gap < -clear ? 'does not hold' : 'inconclusive',
      evidence: numbers,
    });
  } else {
    claims.push({
      claim: `with L2 (l2 = ${l2}) the gap between B = ${small} and B = ${large} largely closes (|gap| < 0.01)`,
      verdict: Math.abs(gap) < 0.01 ? 'holds' : Math.abs(gap) > 0.01 + clear ? 'does not hold' : 'inconclusive',
      evidence: numbers,
    });
  }
  // Over-fitting: the mean test cross-entropy curve of each batch size ends above its minimum.
  const rises: string[] = [];
  let allRise = curves.length > 0;
  for (const b of sizes) {
    const bySteps = new Map<number, number[]>();
    for (const c of curves) {
      if (c.batch_size !== b || c.test_loss === null || !Number.isFinite(c.test_loss)) continue;
      let l = bySteps.get(c.step);
      if (!l) bySteps.set(c.step, (l = []));
      l.push(c.test_loss);
    }
    const steps = [...bySteps.keys()].sort((x, y) => x - y);
    if (steps.length < 3) {
      allRise = false;
      continue;
    }
    const curve = steps.map((s) => mean(bySteps.get(s)!));
    const lowest = Math.min(...curve);
    const rise = curve[curve.length - 1]! - lowest;
    rises.push(
      `B = ${b}: min ${f3(lowest)} at step ${steps[curve.indexOf(lowest)]}, final ${f3(curve[curve.length - 1]!)}`,
    );
    if (!(rise > 0.02)) allRise = false;
  }
  if (rises.length > 0) {
    claims.push({
      claim: 'test cross-entropy rises again after its minimum (over-fitting), for both batch sizes',
      verdict: allRise ? 'holds' : 'does not hold',
      evidence: rises.join('; '),
    });
  }
  return claims;
}
