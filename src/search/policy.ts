/**
 * The adaptive B_opt search of one group (one combination of the other parameters), as a pure
 * function: given the search settings and the results of the tasks the search itself proposed so far,
 * it returns the next round of (batch size, seed) points, or says the group is done.
 *
 * Batch sizes live on a fixed lattice: the distinct integers round(from · r^i) inside [from, to],
 * r = the resolution factor. Rounds: a coarse lattice subset (or three points around a theory
 * prediction), then bracket-and-refine in ln B (midpoints in lattice index) until the best point's
 * lattice neighbours are both measured, then more seeds on every point within noise of the best.
 * Failed or diverged runs count as accuracy 0, i.e. below any peak.
 *
 * Replaying the rounds from the stored results gives the same points every time, so a killed search
 * resumes with exactly the task keys an uninterrupted one would have used.
 */

export interface SearchSettings {
  /** Smallest and largest batch size searched (inclusive). */
  from: number;
  to: number;
  /** B_opt is wanted within this factor: the lattice ratio, e.g. 1.25. */
  resolution: number;
  /** Number of points of the first round when no prediction is available. */
  coarse: number;
  /** Seeds every point gets, and the seeds the points near the peak get. */
  seeds: number;
  peakSeeds: number;
  /** Two means are "within noise" when their gap is below noiseZ standard errors of the difference. */
  noiseZ: number;
  /** Most tasks one group may use. */
  maxTasks: number;
  /**
   * Most passes over the training set one group's tasks may make together (steps x min(B, N) / N
   * summed); unlimited when absent. Under the theory B_opt grows with N, so a budget in epochs costs
   * about the same per group at any N, where a budget in tasks does not.
   */
  maxEpochs?: number;
  /**
   * Most training examples one group's tasks may process together (steps x min(B, N) summed), i.e.
   * max_examples / N epochs; unlimited when absent. Measured B_opt grows more slowly than N (see the
   * README's fig6-search), so the large-N groups need fewer epochs than the small ones: a budget in
   * examples bounds their cost without cutting the small-N searches.
   */
  maxExamples?: number;
}

/** What a group's tasks share that prices a point: its training-set size and its number of updates. */
export interface GroupShape {
  nTrain: number;
  steps: number;
}

/** Passes over the training set of one run at batch size b (the engines train min(B, N) per step). */
export const pointEpochs = (shape: GroupShape, b: number): number =>
  (shape.steps * Math.min(b, shape.nTrain)) / shape.nTrain;

/** Passes over the training set one group may make: the tighter of max_epochs and max_examples / N. */
export function epochBudget(settings: SearchSettings, shape: GroupShape | null): number | undefined {
  const byExamples = settings.maxExamples !== undefined && shape ? settings.maxExamples / shape.nTrain : undefined;
  if (settings.maxEpochs === undefined) return byExamples;
  return byExamples === undefined ? settings.maxEpochs : Math.min(settings.maxEpochs, byExamples);
}

/** One finished run of the group: accuracy null when it failed or diverged. */
export interface Observation {
  batchSize: number;
  seed: number;
  accuracy: number | null;
}

export interface SearchPoint {
  batchSize: number;
  seed: number;
}

export interface PointSummary {
  batchSize: number;
  seeds: number;
  mean: number;
  /** Standard error of the mean (NaN with one seed and no pooled estimate). */
  se: number;
}

export type SearchPhase = 'coarse' | 'bracket' | 'seeds' | 'done';

export interface SearchState {
  phase: SearchPhase;
  /** 0-based number of the round `next` belongs to. */
  round: number;
  /** The current round (some of it not yet stored); empty when done (or when the budget is spent). */
  next: SearchPoint[];
  /** Best measured point so far and its measured lattice neighbours (the bracket). */
  best?: PointSummary;
  bracket?: [number, number];
  points: PointSummary[];
  /** Points of the finished rounds, in the order they were proposed. */
  used: SearchPoint[];
  tasksUsed: number;
  /** Why the search stopped: 'converged' or 'budget'. */
  stopped?: 'converged' | 'budget';
}

/** Distinct integer batch sizes round(from · r^i) within [from, to], ascending. */
export function batchLattice(s: Pick<SearchSettings, 'from' | 'to' | 'resolution'>): number[] {
  const out: number[] = [];
  const steps = Math.floor(Math.log(s.to / s.from) / Math.log(s.resolution) + 1e-9);
  for (let i = 0; i <= steps; i++) {
    const b = Math.round(s.from * Math.pow(s.resolution, i));
    if (b !== out[out.length - 1] && b <= s.to) out.push(b);
  }
  if (out[out.length - 1] !== s.to) out.push(Math.round(s.to));
  return out;
}

/**
 * The lattice points that can differ: every batch size at or above the training-set size trains
 * full batch (the engines use min(B, N)), so only the first such point is kept and the search never
 * spends tasks on copies of the full-batch run.
 */
export function usefulLattice(lattice: readonly number[], fullBatch: number | null): number[] {
  if (fullBatch === null) return [...lattice];
  const first = lattice.findIndex((b) => b >= fullBatch);
  return first === -1 ? [...lattice] : lattice.slice(0, first + 1);
}

/** Seeds 0 .. n-1: the k-th seed of every point is the same, so points are comparable seed by seed. */
const seedList = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

/** The lattice index of the point nearest to b in ln B. */
export function nearestIndex(lattice: readonly number[], b: number): number {
  let best = 0;
  for (let i = 1; i < lattice.length; i++) {
    if (Math.abs(Math.log(lattice[i] / b)) < Math.abs(Math.log(lattice[best] / b))) best = i;
  }
  return best;
}

/** Lattice steps each side of a prediction in the first round: a factor 2.5 (the prior's error was ~35 %). */
const priorSteps = (resolution: number): number => Math.max(1, Math.ceil(Math.log(2.5) / Math.log(resolution) - 1e-9));

function coarseIndices(n: number, coarse: number, prior: number | null, resolution: number): number[] {
  if (n <= coarse) return seedList(n);
  if (prior !== null) {
    // Around a prediction: the predicted point and a factor 2.5 each side, so the first bracket is
    // already close; the bracket rule walks outward if the peak lies beyond.
    const half = priorSteps(resolution);
    return [...new Set([prior - half, prior, prior + half].map((i) => Math.min(n - 1, Math.max(0, i))))];
  }
  // Every stride-th point from the smallest; the largest is left to the outward walk, since it is the
  // costliest point (full batch at n_train) and rarely the peak.
  const stride = Math.max(1, Math.ceil((n - 1) / Math.max(1, coarse - 1)));
  const out: number[] = [];
  for (let i = 0; i < n - 1; i += stride) out.push(i);
  return out;
}

/** Per-point mean and standard error over seeds; one-seed points use the pooled seed variance. */
export function summarise(observations: readonly Observation[]): PointSummary[] {
  const by = new Map<number, number[]>();
  for (const o of observations) {
    const list = by.get(o.batchSize) ?? [];
    list.push(o.accuracy ?? 0);
    by.set(o.batchSize, list);
  }
  let pooledSS = 0;
  let pooledDf = 0;
  const rows = [...by.entries()].sort((a, b) => a[0] - b[0]);
  for (const [, ys] of rows) {
    if (ys.length < 2) continue;
    const m = ys.reduce((a, b) => a + b, 0) / ys.length;
    pooledSS += ys.reduce((a, y) => a + (y - m) ** 2, 0);
    pooledDf += ys.length - 1;
  }
  const pooledVar = pooledDf > 0 ? pooledSS / pooledDf : NaN;
  return rows.map(([batchSize, ys]) => {
    const mean = ys.reduce((a, b) => a + b, 0) / ys.length;
    const variance = ys.length > 1 ? ys.reduce((a, y) => a + (y - mean) ** 2, 0) / (ys.length - 1) : pooledVar;
    // A point's own variance from 2-3 seeds can be ~0 by chance; the pooled one is the floor.
    const v = Number.isFinite(pooledVar) ? Math.max(variance, pooledVar) : variance;
    return { batchSize, seeds: ys.length, mean, se: Math.sqrt(v / ys.length) };
  });
}

/** True when point a is within noise of the best point b (or noise is unknown). */
function withinNoise(a: PointSummary, b: PointSummary, z: number): boolean {
  const se = Math.sqrt(a.se ** 2 + b.se ** 2);
  if (!Number.isFinite(se)) return true;
  return b.mean - a.mean <= z * se;
}

/**
 * Points to add after the measured points `done` (lattice indices with their summaries): the
 * bracket-and-refine step, then the extra-seeds step. Empty when the search has converged.
 */
function proposeAfter(
  lattice: readonly number[],
  summaries: readonly PointSummary[],
  s: SearchSettings,
  coarseStride: number,
): { phase: SearchPhase; points: SearchPoint[]; best: PointSummary; bracket: [number, number] } {
  const index = new Map(lattice.map((b, i) => [b, i]));
  const measured = summaries.filter((p) => index.has(p.batchSize));
  let best = measured[0];
  for (const p of measured) if (p.mean > best.mean) best = p;
  const b = index.get(best.batchSize)!;
  const idx = measured.map((p) => index.get(p.batchSize)!);
  const left = Math.max(-1, ...idx.filter((i) => i < b));
  const rightCandidates = idx.filter((i) => i > b);
  const right = rightCandidates.length ? Math.min(...rightCandidates) : lattice.length;
  const wanted = new Set<number>();
  // Walk outward when the best point is the outermost measured one and the range continues.
  if (left === -1 && b > 0) wanted.add(Math.max(0, b - (right < lattice.length ? right - b : coarseStride)));
  else if (left >= 0 && b - left > 1) wanted.add(Math.round((left + b) / 2));
  if (right === lattice.length && b < lattice.length - 1)
    wanted.add(Math.min(lattice.length - 1, b + (left >= 0 ? b - left : coarseStride)));
  else if (right < lattice.length && right - b > 1) wanted.add(Math.round((b + right) / 2));
  const bracket: [number, number] = [lattice[Math.max(0, left)], lattice[Math.min(lattice.length - 1, right)]];
  if (wanted.size > 0) {
    const points = [...wanted]
      .sort((x, y) => x - y)
      .flatMap((i) => seedList(s.seeds).map((seed) => ({ batchSize: lattice[i], seed })));
    return { phase: 'bracket', points, best, bracket };
  }
  // Bracketed to one lattice step: more seeds wherever a point is within noise of the best.
  const points: SearchPoint[] = [];
  for (const p of measured) {
    if (p.seeds >= s.peakSeeds || !withinNoise(p, best, s.noiseZ)) continue;
    for (let seed = p.seeds; seed < s.peakSeeds; seed++) points.push({ batchSize: p.batchSize, seed });
  }
  return { phase: points.length ? 'seeds' : 'done', points, best, bracket };
}

/**
 * Replays the search of one group over the results stored so far. Round k's points depend only on
 * the results of rounds < k, so results that arrived early (a resumed run, a grid over the same
 * configs) never change which points are proposed. `prior` is a predicted B_opt (or null).
 */
export function searchGroup(
  settings: SearchSettings,
  results: readonly Observation[],
  prior: number | null = null,
  shape: GroupShape | null = null,
): SearchState {
  const lattice = usefulLattice(batchLattice(settings), shape?.nTrain ?? null);
  const epochsOf = (p: SearchPoint): number => (shape ? pointEpochs(shape, p.batchSize) : 0);
  const epochLimit = epochBudget(settings, shape);
  let epochsUsed = 0;
  const key = (p: SearchPoint): string => `${p.batchSize}:${p.seed}`;
  const stored = new Map(results.map((o) => [key(o), o]));
  const coarse = coarseIndices(
    lattice.length,
    settings.coarse,
    prior === null ? null : nearestIndex(lattice, prior),
    settings.resolution,
  );
  const coarseStride = coarse.length > 1 ? coarse[1] - coarse[0] : 1;
  let round: SearchPoint[] = coarse.flatMap((i) =>
    seedList(settings.seeds).map((seed) => ({ batchSize: lattice[i], seed })),
  );
  let phase: SearchPhase = 'coarse';
  const used: Observation[] = [];
  const usedPoints: SearchPoint[] = [];
  const usedKeys = new Set<string>();
  let best: PointSummary | undefined;
  let bracket: [number, number] | undefined;
  for (let r = 0; ; r++) {
    // Budget: a round is cut, in its deterministic order, to what the group has left.
    const fresh = round.filter((p) => !usedKeys.has(key(p)));
    const room = settings.maxTasks - usedKeys.size;
    let next = fresh.slice(0, Math.max(0, room));
    if (epochLimit !== undefined) {
      let spent = epochsUsed;
      const fits = next.findIndex((p) => (spent += epochsOf(p)) > epochLimit + 1e-9);
      if (fits !== -1) next = next.slice(0, fits);
    }
    const points = summarise(used);
    if (next.length === 0) {
      const stopped = fresh.length > 0 ? 'budget' : 'converged';
      return {
        phase: 'done',
        round: r,
        next: [],
        best,
        bracket,
        points,
        used: usedPoints,
        tasksUsed: usedKeys.size,
        stopped,
      };
    }
    // The round is returned whole (its stored points, e.g. from a grid, become members of the sweep
    // too); only its missing points need training.
    if (next.some((p) => !stored.has(key(p)))) {
      return { phase, round: r, next, best, bracket, points, used: usedPoints, tasksUsed: usedKeys.size };
    }
    for (const p of next) {
      used.push(stored.get(key(p))!);
      usedPoints.push(p);
      usedKeys.add(key(p));
      epochsUsed += epochsOf(p);
    }
    const step = proposeAfter(lattice, summarise(used), settings, coarseStride);
    best = step.best;
    bracket = step.bracket;
    phase = step.phase;
    round = step.points;
  }
}

/** The grid that answers the same question: every lattice point with the peak seeds. */
export const equivalentGridTasks = (s: SearchSettings): number => batchLattice(s).length * s.peakSeeds;

/** A group's settings of the parameters that set the noise scale, with the B_opt found there. */
export interface GroupOptimum {
  lr: number;
  nTrain: number;
  momentum: number;
  bopt: number;
}

/**
 * How many groups (the first ones, in the sweep's order) group j's prior uses: groups 0 and 1 start at
 * once without one; later groups wait for groups 0 .. max(1, j - 2), so two groups are always searched
 * side by side.
 */
export const priorGroups = (j: number): number => (j < 2 ? 0 : Math.max(2, j - 1));

/**
 * The theory's prediction for a new group: the optimal noise scale g = eps N / (B (1 - m)) is about
 * constant, so its geometric mean over the groups already searched gives B = eps N / (g (1 - m)).
 * Null with fewer than two finished groups.
 */
export function predictBopt(
  finished: readonly GroupOptimum[],
  target: Omit<GroupOptimum, 'bopt'>,
): { bopt: number; gOpt: number } | null {
  if (finished.length < 2) return null;
  const lnG = finished.map((g) => Math.log((g.lr * g.nTrain) / (g.bopt * (1 - g.momentum))));
  const gOpt = Math.exp(lnG.reduce((a, b) => a + b, 0) / lnG.length);
  return { bopt: (target.lr * target.nTrain) / (gOpt * (1 - target.momentum)), gOpt };
}
