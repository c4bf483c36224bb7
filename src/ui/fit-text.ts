import { compactNumber } from './format.js';
import type { ScienceView } from './science.js';

/** Fit line: "B_opt = k·eps  k=320  R²=0.97  log-log slope 0.95 (4 groups; best grid point)". */
export function fitText(science: ScienceView): string {
  const f = science.fit;
  if (!f) {
    if (science.groups.length === 0) return 'no results yet';
    return science.variable === null ? 'only the batch size varies: no B_opt fit' : 'fit needs B_opt of 2 groups';
  }
  const r2 = Number.isFinite(f.r2) ? f.r2.toFixed(2) : '—';
  const exp = Number.isFinite(f.exponent) ? f.exponent.toFixed(2) : '—';
  return `fit B_opt = k·${f.xLabel}: k=${compactNumber(f.slope)}  R²=${r2}  log-log slope ${exp} (theory 1)  [${f.groups} groups, ${science.method}]`;
}
