/**
 * A text chart of mean test accuracy against log B, one symbol per group, drawn into a character
 * grid (no dependency). Pure: returns lines of segments tagged with their group, so that the Ink
 * component can colour them and a test can read them as plain text.
 *
 *   0.912│          o·····O·
 *        │     o···       ···o
 *   0.450│o····
 *        └──────────────────────
 *       B 1    8    64   512
 *   B_opt            o
 */
import { compactNumber } from './format.js';
import type { ScienceGroup } from './science.js';

export const GROUP_SYMBOLS = ['o', 'x', '+', '*', '#', '@', '%', '&', '=', '~'] as const;

export interface ChartSegment {
  text: string;
  /** Index of the group drawn here, or null for axes and labels. */
  group: number | null;
  /** A B_opt point or marker. */
  strong: boolean;
}

export type ChartLine = ChartSegment[];

interface Cell {
  ch: string;
  group: number | null;
  strong: boolean;
}

export const symbolOf = (group: number): string => GROUP_SYMBOLS[group % GROUP_SYMBOLS.length]!;

/** Rows of the chart for `height` plot rows and `width` columns in all: height + 3 lines. */
export function drawChart(groups: readonly ScienceGroup[], width: number, height: number): ChartLine[] {
  const labelW = 7;
  const plotW = Math.floor(width) - labelW;
  const h = Math.max(2, Math.floor(height));
  if (plotW < 8) return [];
  const all = groups.flatMap((g) => g.points);
  if (all.length === 0) return [];
  let yMin = Infinity;
  let yMax = -Infinity;
  let bMin = Infinity;
  let bMax = -Infinity;
  for (const p of all) {
    yMin = Math.min(yMin, p.meanAccuracy);
    yMax = Math.max(yMax, p.meanAccuracy);
    bMin = Math.min(bMin, p.batchSize);
    bMax = Math.max(bMax, p.batchSize);
  }
  if (yMax - yMin < 1e-9) {
    yMin -= 0.005;
    yMax += 0.005;
  }
  const lo = Math.log(bMin);
  const hi = Math.log(bMax);
  const colOf = (b: number): number =>
    hi - lo < 1e-12 ? Math.floor(plotW / 2) : Math.round(((Math.log(b) - lo) / (hi - lo)) * (plotW - 1));
  const rowOf = (y: number): number => Math.round(((yMax - y) / (yMax - yMin)) * (h - 1));

  const grid: Cell[][] = Array.from({ length: h }, () =>
    Array.from({ length: plotW }, () => ({ ch: ' ', group: null, strong: false })),
  );
  // Connectors first, points over them.
  groups.forEach((g, gi) => {
    for (let i = 1; i < g.points.length; i++) {
      const a = g.points[i - 1]!;
      const b = g.points[i]!;
      const c0 = colOf(a.batchSize);
      const c1 = colOf(b.batchSize);
      for (let c = c0 + 1; c < c1; c++) {
        const t = (c - c0) / (c1 - c0);
        const r = rowOf(a.meanAccuracy + t * (b.meanAccuracy - a.meanAccuracy));
        const cell = grid[r]![c]!;
        if (cell.ch === ' ') grid[r]![c] = { ch: '·', group: gi, strong: false };
      }
    }
  });
  groups.forEach((g, gi) => {
    for (const p of g.points) {
      const strong = p.batchSize === g.bOptGrid;
      const cell = grid[rowOf(p.meanAccuracy)]![colOf(p.batchSize)]!;
      if (cell.strong && !strong) continue; // never hide another group's B_opt
      cell.ch = symbolOf(gi);
      cell.group = gi;
      cell.strong = strong;
    }
  });

  const lines: ChartLine[] = [];
  const mid = Math.floor((h - 1) / 2);
  for (let r = 0; r < h; r++) {
    let label = '';
    if (r === 0) label = yMax.toFixed(3);
    else if (r === h - 1) label = yMin.toFixed(3);
    else if (r === mid && h >= 5) label = (yMax - ((yMax - yMin) * r) / (h - 1)).toFixed(3);
    lines.push(coalesce([...toCells(label.padStart(labelW - 1) + '│'), ...grid[r]!]));
  }
  lines.push([{ text: ' '.repeat(labelW - 1) + '└' + '─'.repeat(plotW), group: null, strong: false }]);

  // Batch-size ticks where they fit.
  const ticks = Array.from({ length: plotW }, () => ' ');
  let free = 0;
  for (const b of [...new Set(all.map((p) => p.batchSize))].sort((x, y) => x - y)) {
    const text = compactNumber(b);
    let c = colOf(b);
    if (c + text.length > plotW) c = plotW - text.length;
    if (c < free) continue;
    for (let i = 0; i < text.length; i++) ticks[c + i] = text[i]!;
    free = c + text.length + 1;
  }
  lines.push([{ text: 'B'.padStart(labelW - 1) + ' ' + ticks.join(''), group: null, strong: false }]);

  // B_opt markers: each group's symbol under its B_opt (the analysis's estimate, between grid points).
  const marks: Cell[] = Array.from({ length: plotW }, () => ({ ch: ' ', group: null, strong: false }));
  groups.forEach((g, gi) => {
    const c = colOf(g.bOpt);
    for (const d of [0, 1, -1, 2, -2]) {
      const cell = marks[c + d];
      if (cell && cell.ch === ' ') {
        marks[c + d] = { ch: symbolOf(gi), group: gi, strong: true };
        return;
      }
    }
  });
  lines.push(coalesce([...toCells('B_opt'.padStart(labelW - 1) + ' '), ...marks]));
  return lines;
}

function toCells(text: string): Cell[] {
  return [...text].map((ch) => ({ ch, group: null, strong: false }));
}

function coalesce(cells: Cell[]): ChartLine {
  const out: ChartLine = [];
  for (const c of cells) {
    const last = out.at(-1);
    if (last && last.group === c.group && last.strong === c.strong) last.text += c.ch;
    else out.push({ text: c.ch, group: c.group, strong: c.strong });
  }
  return out;
}

export const lineText = (line: ChartLine): string => line.map((s) => s.text).join('');
