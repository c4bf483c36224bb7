/**
 * `bopt fit`, `bopt plot` and `bopt report`: the paper's analysis of stored sweeps
 * (src/analysis: fit.ts, claims.ts, plots.ts, report.ts).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { sweepNameOf } from '../../analysis/data.js';
import { applicableKinds, PLOT_KINDS, plotSpec, renderSvg, svgToPng, type PlotKind } from '../../analysis/plots.js';
import { analyseSweep, fitTables, claimLines, reportMarkdown, type SweepAnalysis } from '../../analysis/report.js';
import { evidencePoints } from '../../analysis/claims.js';
import { InputError } from '../../errors.js';
import { resolveDatabasePath } from '../../paths.js';
import { SweepStore } from '../../storage/store.js';

function analyse(arg: string, db: string | undefined, bootstrap = 1000): SweepAnalysis {
  const store = SweepStore.openReadOnly(resolveDatabasePath(db));
  try {
    return analyseSweep(store.reader, sweepNameOf(arg), { bootstrap });
  } finally {
    store.close();
  }
}

export function fitCommand(arg: string, options: { db?: string; format: string; bootstrap?: number }): string {
  if (!['table', 'json'].includes(options.format))
    throw new InputError(`--format: expected one of table, json, got "${options.format}"`);
  const a = analyse(arg, options.db, options.bootstrap ?? 1000);
  if (a.fit) {
    // Store the fit (opening for writing applies migration 002) so `bopt query` can read it.
    const store = SweepStore.open(resolveDatabasePath(options.db));
    try {
      store.saveFit(a.sweep, a.fit);
    } finally {
      store.close();
    }
  }
  if (options.format === 'json') {
    const fit = a.fit ? { ...a.fit, groups: a.fit.groups.map(({ replicates: _r, ...g }) => g) } : null;
    return (
      JSON.stringify(
        {
          sweep: a.sweep,
          done: a.done,
          total: a.total,
          fit,
          evidence: a.fit ? undefined : evidencePoints(a.rows),
          claims: a.claims,
        },
        null,
        2,
      ) + '\n'
    );
  }
  const stored = a.fit
    ? '; stored in tables fits, fit_points, fit_lines (view fit_summary)'
    : ' (logistic regression at its minimum: evidence table)';
  const head = `${a.sweep}: ${a.done}/${a.total} tasks done${stored}\n\n`;
  return head + fitTables(a) + (a.claims.length ? '\n' + claimLines(a.claims) : '');
}

async function writePlot(kind: PlotKind, a: SweepAnalysis, file: string): Promise<void> {
  const svg = await renderSvg(plotSpec(kind, { sweep: a.sweep, rows: a.rows, curves: a.curves, fit: a.fit }));
  writeFileSync(file, extname(file).toLowerCase() === '.png' ? svgToPng(svg) : svg);
}

function parseKinds(kind: string | undefined): PlotKind[] | null {
  if (!kind) return null;
  const kinds = kind.split(',').map((k) => k.trim());
  for (const k of kinds)
    if (!(PLOT_KINDS as readonly string[]).includes(k))
      throw new InputError(`--kind: expected one of ${PLOT_KINDS.join(', ')}, got "${k}"`);
  return kinds as PlotKind[];
}

/** Writes the plots of a sweep into `dir` as PNG and SVG; returns the file names (relative to dir). */
export async function writeAllPlots(a: SweepAnalysis, dir: string, only: PlotKind[] | null = null): Promise<string[]> {
  mkdirSync(dir, { recursive: true });
  const kinds = only ?? applicableKinds({ sweep: a.sweep, rows: a.rows, curves: a.curves, fit: a.fit });
  const files: string[] = [];
  for (const k of kinds) {
    await writePlot(k, a, join(dir, `${a.sweep}-${k}.svg`));
    await writePlot(k, a, join(dir, `${a.sweep}-${k}.png`));
    files.push(`${a.sweep}-${k}.png`);
  }
  return files;
}

export async function plotCommand(arg: string, options: { db?: string; out: string; kind?: string }): Promise<string> {
  const a = analyse(arg, options.db, 200);
  const kinds = parseKinds(options.kind);
  const applicable = applicableKinds({ sweep: a.sweep, rows: a.rows, curves: a.curves, fit: a.fit });
  for (const k of kinds ?? [])
    if (!applicable.includes(k))
      throw new InputError(
        `--kind ${k} does not apply to sweep ${a.sweep} (applicable: ${applicable.join(', ') || 'none'})`,
      );
  const ext = extname(options.out).toLowerCase();
  if (ext === '.svg' || ext === '.png') {
    const list = kinds ?? applicable;
    if (list.length === 0) throw new InputError(`no plot applies to sweep ${a.sweep}`);
    if (list.length > 1 && kinds) throw new InputError('one --kind per file (or give a directory as --out)');
    await writePlot(list[0], a, options.out);
    return `${options.out} (${list[0]})\n`;
  }
  const files = await writeAllPlots(a, options.out, kinds);
  return files.map((f) => join(options.out, f)).join('\n') + '\n';
}

export async function reportCommand(args: string[], options: { db?: string; out: string }): Promise<string> {
  const analyses = args.map((s) => analyse(s, options.db));
  mkdirSync(options.out, { recursive: true });
  const figures = new Map<string, string[]>();
  for (const a of analyses) figures.set(a.sweep, await writeAllPlots(a, options.out));
  const file = join(options.out, 'report.md');
  writeFileSync(file, reportMarkdown(analyses, figures));
  const n = analyses.reduce((s, a) => s + a.claims.length, 0);
  return `${file}: ${analyses.length} sweeps, ${n} claims checked\n`;
}
