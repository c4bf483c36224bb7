/**
 * Everything the science commands compute for one sweep, and the Markdown of `bopt report`.
 */
import { boptClaims, curveClaims, evidenceClaims, evidencePoints, isLogregSweep, type Claim } from './claims.js';
import type { CurveRow, SweepReader } from '../storage/reader.js';
import { ANALYSIS_WINDOW, fitSweep, type FitOptions, type RunRow, type SweepFit } from './fit.js';
import { InputError } from '../errors.js';
import { priorChecks } from './prior.js';

export interface SweepAnalysis {
  sweep: string;
  rows: RunRow[];
  curves: CurveRow[];
  /** B_opt fit (null for logistic-regression evidence sweeps). */
  fit: SweepFit | null;
  claims: Claim[];
  total: number;
  done: number;
}

/** The whole analysis of one stored sweep, with the parabola window of ANALYSIS_WINDOW. */
export function analyseSweep(reader: SweepReader, sweep: string, options: FitOptions = {}): SweepAnalysis {
  const rows = reader.runs(sweep);
  const { total, done } = reader.taskCounts(sweep);
  if (rows.length === 0) throw new InputError(`sweep "${sweep}" has no finished runs yet`);
  const curves = reader.curves(sweep);
  if (isLogregSweep(rows)) return { sweep, rows, curves, fit: null, claims: evidenceClaims(rows), total, done };
  let fit: SweepFit;
  try {
    fit = fitSweep(rows, { window: ANALYSIS_WINDOW, ...options });
  } catch (e) {
    throw new InputError(`${sweep}: ${(e as Error).message}`, { cause: e });
  }
  const manyB = new Set(rows.map((r) => r.batch_size)).size >= 3;
  return { sweep, rows, curves, fit, claims: manyB ? boptClaims(rows, fit) : curveClaims(rows, curves), total, done };
}

const f = (x: number | null | undefined, digits = 3): string =>
  x === null || x === undefined || !Number.isFinite(x) ? '' : Number(x.toPrecision(digits)).toString();

/** The per-group table and the line fit, as Markdown-compatible pipe tables. */
export function fitTables(a: SweepAnalysis): string {
  const out: string[] = [];
  if (!a.fit) {
    out.push('| dataset | labels | l2 | lambda | seeds | train acc | test acc | train CE | test CE | E | E/N |');
    out.push('|---|---|---|---|---|---|---|---|---|---|---|');
    for (const p of evidencePoints(a.rows)) {
      out.push(
        `| ${p.dataset} | ${p.labels} | ${f(p.l2)} | ${f(p.lambda)} | ${p.runs} | ${f(p.trainAccuracy)} | ${f(p.testAccuracy)} ` +
          `| ${f(p.trainLoss)} | ${f(p.testLoss)} | ${f(p.evidence, 4)} | ${f(p.evidencePerExample)} |`,
      );
    }
    return out.join('\n') + '\n';
  }
  const fit = a.fit;
  const gp = fit.groupParam ?? 'group';
  for (const g of fit.groups) {
    out.push(
      `**${fit.groupParam ? `${gp} = ${g.groupValue}` : 'all runs'}** (lr ${g.lr}, N ${g.n_train}, m ${g.momentum}, ${g.seeds} seeds)`,
    );
    out.push('');
    out.push('| B | test accuracy (mean ± sd) | runs | diverged | g |');
    out.push('|---|---|---|---|---|');
    for (const p of g.points) {
      const mark = p.batchSize === g.bOptGrid ? ' **←best**' : '';
      out.push(
        `| ${p.batchSize} | ${p.mean.toFixed(4)} ± ${p.sd.toFixed(4)}${mark} | ${p.n} | ${p.diverged} | ${f(p.noiseScale)} |`,
      );
    }
    out.push('');
    const interval = g.bOptLo !== null ? ` [${f(g.bOptLo)}, ${f(g.bOptHi)}]` : '';
    out.push(
      `B_opt: grid ${g.bOptGrid} (neighbours ${g.gridLo}..${g.gridHi}), continuous ${f(g.bOpt)} (${g.method})${interval}; ` +
        `interior peak: ${g.interiorPeak ? 'yes' : 'no'} (margin ${f(g.peakMargin)}); ` +
        `g_opt ${f(g.gOpt)}${g.gOptLo !== null ? ` [${f(g.gOptLo)}, ${f(g.gOptHi)}]` : ''}`,
    );
    out.push('');
  }
  const l = fit.line;
  if (l) {
    out.push(`**Line fit of B_opt against ${l.against}** (${l.groups} groups)`);
    out.push('');
    out.push(
      '| slope k (B = k x) | R² | exponent | 95 % t interval | 95 % bootstrap interval | log-log R² | Spearman | g_opt mean | g_opt cv |',
    );
    out.push('|---|---|---|---|---|---|---|---|---|');
    out.push(
      `| ${f(l.slope)} | ${f(l.r2)} | ${f(l.exponent)} | ${l.exponentLo !== null ? `[${f(l.exponentLo)}, ${f(l.exponentHi)}]` : ''} | ${
        l.exponentBootLo !== null ? `[${f(l.exponentBootLo)}, ${f(l.exponentBootHi)}]` : ''
      } | ${f(l.r2Log)} | ${f(l.spearman)} | ${f(fit.gOptMean)} | ${f(fit.gOptCv)} |`,
    );
  }
  const priors = priorChecks(fit);
  if (priors.length) {
    out.push('');
    out.push(
      `**Theory prior** (B_opt = eps N / (g_opt (1 - m)), g_opt from the best B of the groups before, as a search's prior uses them)`,
    );
    out.push('');
    out.push(`| ${gp} | predicted B_opt | best B found | found / predicted |`);
    out.push('|---|---|---|---|');
    for (const c of priors) out.push(`| ${c.groupValue} | ${f(c.predicted)} | ${c.found} | ${f(c.ratio)} |`);
  }
  return out.join('\n') + '\n';
}

export function claimLines(claims: readonly Claim[]): string {
  return (
    claims.map((c) => `- **${c.verdict.toUpperCase()}** — ${c.claim}: ${c.evidence}`).join('\n') +
    (claims.length ? '\n' : '')
  );
}

export function reportMarkdown(analyses: readonly SweepAnalysis[], figures: Map<string, string[]>): string {
  const out: string[] = ['# Smith & Le (2018) reproduction report', ''];
  out.push(
    `Generated ${new Date().toISOString()} by \`bopt report\`. ` +
      'Verdicts: holds / does not hold / inconclusive, with the numbers behind them.',
    '',
  );
  out.push('## Verdicts', '');
  for (const a of analyses) {
    if (a.claims.length) out.push(`### ${a.sweep}`, '', claimLines(a.claims));
  }
  for (const a of analyses) {
    out.push(`## ${a.sweep}`, '');
    if (a.done < a.total) out.push(`> Incomplete: ${a.done} of ${a.total} tasks done.`, '');
    for (const file of figures.get(a.sweep) ?? []) out.push(`![${file}](${file})`, '');
    out.push(fitTables(a));
  }
  return out.join('\n');
}
