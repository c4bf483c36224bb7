import { compactNumber } from './format.js';
import type { ScienceGroup, ScienceView } from './science.js';

/** A group's B_opt: "45 (grid 32, acc 0.912)" from the parabola, "32 (acc 0.912)" at the grid point. */
export function bOptText(g: ScienceGroup): string {
  const acc = `acc ${g.bestAccuracy.toFixed(3)}`;
  return g.method === 'parabola' && compactNumber(g.bOpt) !== compactNumber(g.bOptGrid)
    ? `${compactNumber(g.bOpt)} (grid ${g.bOptGrid}, ${acc})`
    : `${g.bOptGrid} (${acc})`;
}

/** Fit line: "fit B_opt = k·eps: k=320  R²=0.97  log-log slope 0.95 (theory 1)  [4 groups, as bopt fit]". */
export function fitText(science: ScienceView): string {
  const f = science.fit;
  if (!f) {
    if (science.groups.length === 0) return 'no results yet';
    if (science.varying.length > 1)
      return `${science.varying.join(', ')} vary together: no B_opt fit (bopt fit takes one at a time)`;
    return science.variable === null ? 'only the batch size varies: no B_opt fit' : 'fit needs B_opt of 2 groups';
  }
  const r2 = Number.isFinite(f.r2) ? f.r2.toFixed(2) : '—';
  const exp = Number.isFinite(f.exponent) ? f.exponent.toFixed(2) : '—';
  return (
    `fit B_opt = k·${f.xLabel}: k=${compactNumber(f.slope)}  R²=${r2}  ` +
    `log-log slope ${exp} (theory 1)  [${f.groups} groups, as bopt fit]`
  );
}
