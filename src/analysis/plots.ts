/**
 * Figures as vega-lite specs, compiled with vega-lite and rendered headless by vega (SVG) and resvg
 * (PNG). Each kind is a function of the data the analysis already has (runs, curves, fits).
 */
import { Resvg } from '@resvg/resvg-js';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { CurveRow } from './data.js';
import { evidencePoints, isLogregSweep } from './claims.js';
import { noiseScale, type RunRow, type SweepFit } from './fit.js';
import { AGAINST } from './swept.js';

export const PLOT_KINDS = ['accuracy', 'bopt', 'curves', 'collapse', 'evidence', 'logreg-accuracy'] as const;
export type PlotKind = (typeof PLOT_KINDS)[number];

export interface PlotInput {
  sweep: string;
  rows: RunRow[];
  curves: CurveRow[];
  fit: SweepFit | null;
}

/** The kinds that make sense for a sweep's contents. */
export function applicableKinds(input: PlotInput): PlotKind[] {
  if (isLogregSweep(input.rows)) return ['evidence', 'logreg-accuracy'];
  const kinds: PlotKind[] = [];
  const batches = new Set(input.rows.map((r) => r.batch_size));
  if (input.fit && batches.size >= 3) kinds.push('accuracy');
  if (input.fit?.line) kinds.push('bopt');
  const perTask = new Map<string, number>();
  for (const c of input.curves) perTask.set(c.task_key, (perTask.get(c.task_key) ?? 0) + 1);
  if ([...perTask.values()].some((n) => n >= 3)) kinds.push('curves');
  if (batches.size >= 3) kinds.push('collapse');
  return kinds;
}

const W = 460;
const H = 300;
const groupTitle = (fit: SweepFit | null): string => (fit?.groupParam ? fit.groupParam : 'group');

export function plotSpec(kind: PlotKind, input: PlotInput): TopLevelSpec {
  const title = `${input.sweep}: ${kind}`;
  const gp = groupTitle(input.fit);
  switch (kind) {
    case 'accuracy': {
      const fit = need(input.fit, kind);
      const values = fit.groups.flatMap((g) =>
        g.points.map((p) => ({
          group: String(g.groupValue ?? 'all'),
          B: p.batchSize,
          mean: p.mean,
          lo: p.mean - p.sd,
          hi: p.mean + p.sd,
        })),
      );
      return {
        $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
        title: `${title} (mean ± sd over seeds)`,
        width: W,
        height: H,
        data: { values },
        encoding: {
          x: { field: 'B', type: 'quantitative', scale: { type: 'log' }, title: 'batch size B' },
          color: { field: 'group', type: 'nominal', title: gp },
        },
        layer: [
          {
            mark: { type: 'line', point: true },
            encoding: { y: { field: 'mean', type: 'quantitative', title: 'final test accuracy' } },
          },
          {
            mark: 'errorbar',
            encoding: { y: { field: 'lo', type: 'quantitative', title: 'final test accuracy' }, y2: { field: 'hi' } },
          },
        ],
      } as TopLevelSpec;
    }
    case 'bopt': {
      const fit = need(input.fit, kind);
      const line = need(fit.line, kind);
      const swept = need(fit.groupParam, kind);
      const xOf = (g: SweepFit['groups'][number]): number => AGAINST[swept].x(g[swept]);
      const pts = fit.groups.map((g) => ({
        x: xOf(g),
        bopt: g.bOpt,
        lo: g.bOptLo ?? g.gridLo,
        hi: g.bOptHi ?? g.gridHi,
        grid: g.bOptGrid,
      }));
      const xs = pts.map((p) => p.x);
      const x0 = Math.min(...xs);
      const x1 = Math.max(...xs);
      const fitted = Array.from({ length: 20 }, (_, i) => {
        const x = x0 * (x1 / x0) ** (i / 19);
        return { x, prop: line.slope * x, power: Math.exp(line.intercept) * x ** line.exponent };
      });
      return {
        $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
        title:
          `${title}: exponent ${line.exponent.toFixed(2)}, ` +
          `B = ${line.slope.toPrecision(3)}·${line.against} (R² ${line.r2.toFixed(2)})`,
        width: W,
        height: H,
        layer: [
          {
            data: { values: pts },
            mark: { type: 'point', filled: true, size: 70 },
            encoding: {
              x: { field: 'x', type: 'quantitative', scale: { type: 'log' }, title: line.against },
              y: {
                field: 'bopt',
                type: 'quantitative',
                scale: { type: 'log' },
                title: 'B_opt (95 % bootstrap interval)',
              },
            },
          },
          {
            data: { values: pts },
            mark: 'errorbar',
            encoding: {
              x: { field: 'x', type: 'quantitative' },
              y: { field: 'lo', type: 'quantitative', title: 'B_opt (95 % bootstrap interval)' },
              y2: { field: 'hi' },
            },
          },
          {
            data: { values: fitted },
            mark: { type: 'line', strokeDash: [4, 3], color: 'gray' },
            encoding: { x: { field: 'x', type: 'quantitative' }, y: { field: 'prop', type: 'quantitative' } },
          },
          {
            data: { values: fitted },
            mark: { type: 'line', color: 'firebrick' },
            encoding: { x: { field: 'x', type: 'quantitative' }, y: { field: 'power', type: 'quantitative' } },
          },
        ],
      } as TopLevelSpec;
    }
    case 'curves': {
      // Mean over seeds per (lr, l2, B, step).
      const acc = new Map<string, { lr: number; B: number; step: number; a: number[]; l: number[] }>();
      for (const c of input.curves) {
        const k = `${c.lr}|${c.batch_size}|${c.step}`;
        let e = acc.get(k);
        if (!e) acc.set(k, (e = { lr: c.lr, B: c.batch_size, step: c.step, a: [], l: [] }));
        if (c.test_accuracy !== null) e.a.push(c.test_accuracy);
        if (c.test_loss !== null && Number.isFinite(c.test_loss)) e.l.push(c.test_loss);
      }
      const lrs = new Set(input.curves.map((c) => c.lr));
      const values = [...acc.values()].map((e) => ({
        series: lrs.size > 1 ? `lr ${e.lr}, B ${e.B}` : `B ${e.B}`,
        B: e.B,
        step: e.step,
        accuracy: e.a.length ? e.a.reduce((s, x) => s + x, 0) / e.a.length : null,
        loss: e.l.length ? e.l.reduce((s, x) => s + x, 0) / e.l.length : null,
      }));
      const panel = (field: string, t: string): object => ({
        width: W,
        height: 220,
        mark: { type: 'line' },
        encoding: {
          x: { field: 'step', type: 'quantitative', title: 'gradient updates' },
          y: { field, type: 'quantitative', title: t, scale: { zero: false } },
          color: { field: 'series', type: 'nominal', sort: null, title: 'run' },
        },
      });
      return {
        $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
        title: `${title} (mean over seeds)`,
        data: { values },
        vconcat: [panel('accuracy', 'test accuracy'), panel('loss', 'test cross-entropy')],
      } as TopLevelSpec;
    }
    case 'collapse': {
      const values = input.rows
        .filter((r) => r.test_accuracy !== null && r.batch_size < r.n_train)
        .map((r) => ({
          g: noiseScale(r.lr, r.n_train, r.batch_size, r.momentum),
          accuracy: r.test_accuracy,
          group: String(input.fit?.groupParam ? r[input.fit.groupParam] : 'all'),
        }));
      return {
        $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
        title: `${title}: test accuracy against g = eps (N/B - 1)/(1 - m), every run with B < N`,
        width: W,
        height: H,
        data: { values },
        mark: { type: 'point', filled: true, opacity: 0.75 },
        encoding: {
          x: { field: 'g', type: 'quantitative', scale: { type: 'log' }, title: 'noise scale g' },
          y: { field: 'accuracy', type: 'quantitative', title: 'final test accuracy' },
          color: { field: 'group', type: 'nominal', title: gp },
        },
      } as TopLevelSpec;
    }
    case 'evidence':
    case 'logreg-accuracy': {
      const pts = evidencePoints(input.rows).filter((p) => p.l2 > 0);
      const measures: [string, (p: (typeof pts)[number]) => number][] =
        kind === 'evidence'
          ? [
              ['E/N', (p) => p.evidencePerExample],
              ['train cross-entropy', (p) => p.trainLoss],
              ['test cross-entropy', (p) => p.testLoss],
            ]
          : [
              ['train accuracy', (p) => p.trainAccuracy],
              ['test accuracy', (p) => p.testAccuracy],
            ];
      const values = pts.flatMap((p) =>
        measures.map(([m, f]) => ({
          panel: `${p.dataset}, ${p.labels} labels`,
          lambda: p.lambda,
          measure: m,
          value: f(p),
        })),
      );
      return {
        $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
        title:
          kind === 'evidence'
            ? `${input.sweep}: evidence and cross-entropies at the minimum (E > 0: null model preferred)`
            : `${input.sweep}: accuracy at the minimum`,
        data: { values },
        facet: { field: 'panel', type: 'nominal', title: null },
        columns: 2,
        spec: {
          width: 300,
          height: 200,
          layer: [
            {
              mark: { type: 'line', point: true },
              encoding: {
                x: { field: 'lambda', type: 'quantitative', scale: { type: 'log' }, title: 'lambda = N · l2' },
                y: { field: 'value', type: 'quantitative', title: null },
                color: {
                  field: 'measure',
                  type: 'nominal',
                  title: null,
                  legend: { orient: 'bottom', direction: 'vertical' },
                },
              },
            },
            {
              mark: { type: 'rule', strokeDash: [2, 2], color: 'gray' },
              encoding: { y: { datum: kind === 'evidence' ? 0 : 0.5 } },
            },
          ],
        },
        resolve: { scale: { y: 'independent' } },
      } as TopLevelSpec;
    }
  }
}

function need<T>(x: T | null | undefined, kind: string): T {
  if (x === null || x === undefined) throw new Error(`plot kind ${kind} does not apply to this sweep`);
  return x;
}

export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const compiled = compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}

export function svgToPng(svg: string): Buffer {
  return Buffer.from(
    new Resvg(svg, { background: 'white', fitTo: { mode: 'zoom', value: 1.5 }, font: { loadSystemFonts: true } })
      .render()
      .asPng(),
  );
}
