/** "1h02m", "3m05s", "12.3s", "450ms". */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '?';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(Math.floor(s % 60)).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  return `${h}h${String(m % 60).padStart(2, '0')}m`;
}

/** "[#####.....]"-style bar of `width` cells (unicode blocks, with eighths for the partial cell). */
export function progressBar(fraction: number, width: number): string {
  const w = Math.max(1, Math.floor(width));
  const f = Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0));
  const eighths = Math.round(f * w * 8);
  const full = Math.floor(eighths / 8);
  const part = eighths % 8;
  const partial = part > 0 ? '▏▎▍▌▋▊▉'[part - 1]! : '';
  return '█'.repeat(full) + partial + '░'.repeat(Math.max(0, w - full - (partial ? 1 : 0)));
}

/** A number in few characters: 0.1, 1000, 3.2e-4, 1.5e6. */
export function compactNumber(x: number | null | undefined): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '?';
  if (x === 0) return '0';
  const a = Math.abs(x);
  if (a >= 1e5 || a < 1e-3) return x.toExponential(1).replace('e+', 'e');
  if (Number.isInteger(x)) return String(x);
  return String(Number(x.toPrecision(3)));
}

/** The parameters that tell tasks of a sweep apart, in one short line. */
export function formatParams(p: {
  batch_size: number;
  lr: number;
  n_train: number;
  momentum: number;
  seed: number;
  model?: string;
  dataset?: string;
  l2?: number;
}): string {
  const parts = [`B=${p.batch_size}`, `eps=${compactNumber(p.lr)}`, `N=${p.n_train}`, `m=${compactNumber(p.momentum)}`];
  if (p.l2) parts.push(`l2=${compactNumber(p.l2)}`);
  parts.push(`seed=${p.seed}`);
  if (p.model) parts.push(`${p.model}/${p.dataset ?? '?'}`);
  return parts.join(' ');
}

/** Whether colour is allowed: NO_COLOR (any non-empty value) and FORCE_COLOR=0 turn it off. */
export function colorEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR === '0' || env.FORCE_COLOR === 'false') return false;
  return true;
}
