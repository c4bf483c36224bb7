/**
 * What an adaptive search will cost, before it runs: the tasks it has already chosen are known, but
 * the later rounds depend on results not yet trained. Two figures:
 *
 *  - expected: the search replayed to the end on a stand-in objective (accuracy a parabola in ln B
 *    plus seed noise, its peak where the theory puts B_opt: from the groups already searched when two
 *    are, else from the middle of the first two groups' ranges), round by round as `bopt run` trains
 *    them, so the wall time counts the rounds' idle cores;
 *  - maximum: every group spending its whole budget (max_tasks, max_epochs) on its costliest
 *    candidates, an upper bound whatever the results.
 * Prices come from `priceOf` (seconds for `bopt plan`; cost units for the live UI, which turns them
 * into time with the throughput it measures, so both use one estimate).
 */
import { stream } from '../engines/rng.js';
import {
  batchLattice,
  epochBudget,
  predictBopt,
  pointEpochs,
  usefulLattice,
  type GroupOptimum,
} from '../search/policy.js';
import type { ExpandedTask, LoadedSweep } from '../sweep/types.js';
import { packedWallSeconds } from './plan.js';
import { estimateCost } from '../sweep/cost.js';
import type { SearchGroupProgress, SearchProgress } from './events.js';
import { groupsOf, planSearch, type SearchPlan, type StoredOutcome } from './search-rounds.js';

export interface BudgetFigure {
  tasks: number;
  cpuSeconds: number;
  wallSeconds: number;
}

export interface SearchBudget {
  /** Tasks the stored results already settle (trained or chosen by finished rounds). */
  stored: number;
  expected: BudgetFigure;
  maximum: BudgetFigure;
}

/** Where the stand-in objective peaks in each group. */
function standInPeaks(sweep: LoadedSweep, groups: ExpandedTask[][], found: ReadonlyMap<number, number>): number[] {
  const settings = sweep.search!;
  const optimum = (j: number, bopt: number): GroupOptimum => {
    const p = groups[j][0].params;
    return { lr: p.lr, nTrain: p.n_train, momentum: p.momentum, bopt };
  };
  const middle = (j: number): number => {
    const lattice = usefulLattice(batchLattice(settings), groups[j][0].params.n_train);
    return Math.sqrt(lattice[0] * lattice[lattice.length - 1]);
  };
  const known = [...found.entries()].map(([j, b]) => optimum(j, b));
  const anchors = known.length >= 2 ? known : [0, 1].filter((j) => j < groups.length).map((j) => optimum(j, middle(j)));
  return groups.map((g, j) => {
    if (found.has(j)) return found.get(j)!;
    const p = g[0].params;
    return predictBopt(anchors, { lr: p.lr, nTrain: p.n_train, momentum: p.momentum })?.bopt ?? middle(j);
  });
}

/** The stand-in accuracy: 0.9 at the peak, 0.02 lower a factor e away, seed noise 0.002, deterministic. */
function standInAccuracy(peak: number, batch: number, seed: number): number {
  const noise = stream(seed, `plan stand-in B=${batch}`).normal();
  return 0.9 - 0.02 * Math.log(batch / peak) ** 2 + 0.002 * noise;
}

export function searchBudget(
  sweep: LoadedSweep,
  outcomes: ReadonlyMap<string, StoredOutcome>,
  secondsOf: (task: ExpandedTask) => number,
  workers: number,
): SearchBudget {
  const settings = sweep.search;
  if (!settings) throw new Error(`sweep "${sweep.name}" has no search section`);
  // Candidate tasks by group, in the search's order of groups.
  const groups = groupsOf(sweep.tasks).map((g) => [...g.tasks.values()]);
  const groupOf = new Map<string, number>();
  groups.forEach((g, j) => g.forEach((t) => groupOf.set(t.key, j)));

  // Expected: replay the rounds, training each on the stand-in objective.
  const start = planSearch(sweep, outcomes);
  const found = new Map<number, number>();
  start.groups.forEach((g, j) => {
    if (g.state?.phase === 'done' && g.state.best) found.set(j, g.state.best.batchSize);
  });
  const peaks = standInPeaks(sweep, groups, found);
  const simulated = new Map(outcomes);
  let expected: BudgetFigure = { tasks: 0, cpuSeconds: 0, wallSeconds: 0 };
  for (let round = 0; round < 10_000; round++) {
    const plan = round === 0 ? start : planSearch(sweep, simulated);
    if (plan.done || plan.missing.length === 0) break;
    const seconds = plan.missing.map(secondsOf);
    expected = {
      tasks: expected.tasks + plan.missing.length,
      cpuSeconds: expected.cpuSeconds + seconds.reduce((a, b) => a + b, 0),
      wallSeconds: expected.wallSeconds + packedWallSeconds(seconds, workers),
    };
    for (const t of plan.missing) {
      const j = groupOf.get(t.key)!;
      const batch = Math.min(t.params.batch_size, t.params.n_train);
      simulated.set(t.key, { testAccuracy: standInAccuracy(peaks[j], batch, t.params.seed) });
    }
  }

  // Maximum: each unfinished group's remaining budget spent on its costliest candidates.
  const maxSeconds: number[] = [];
  start.groups.forEach((g, j) => {
    if (g.state?.phase === 'done') return;
    const shape = { nTrain: groups[j][0].params.n_train, steps: groups[j][0].params.steps };
    const lattice = new Set(usefulLattice(batchLattice(settings), shape.nTrain));
    const usedKeys = new Set(g.state?.used.map((p) => `${p.batchSize}:${p.seed}`) ?? []);
    const open = groups[j]
      .filter((t) => lattice.has(t.params.batch_size) && !usedKeys.has(`${t.params.batch_size}:${t.params.seed}`))
      .filter((t) => !outcomes.has(t.key))
      .sort((a, b) => secondsOf(b) - secondsOf(a));
    let tasksLeft = settings.maxTasks - usedKeys.size;
    const epochLimit = epochBudget(settings, shape);
    let epochsLeft =
      epochLimit === undefined
        ? Infinity
        : epochLimit - (g.state?.used ?? []).reduce((a, p) => a + pointEpochs(shape, p.batchSize), 0);
    // Costliest first, skipping what no longer fits: the worst case for the task cap, and under the
    // epoch cap (a task's seconds are about proportional to its epochs) the costliest filling of it.
    for (const t of open) {
      if (tasksLeft <= 0) break;
      const epochs = pointEpochs(shape, t.params.batch_size);
      if (epochs > epochsLeft + 1e-9) continue; // the search cuts a round before it overspends
      maxSeconds.push(secondsOf(t));
      tasksLeft--;
      epochsLeft -= epochs;
    }
  });
  const maximum: BudgetFigure = {
    tasks: maxSeconds.length,
    cpuSeconds: maxSeconds.reduce((a, b) => a + b, 0),
    wallSeconds: maxSeconds.length ? packedWallSeconds(maxSeconds, workers) : 0,
  };
  const stored = start.chosen.filter((t) => outcomes.has(t.key)).length;
  return { stored, expected, maximum };
}

/** Where a search stands at the start of a round, for the live UI and the log (costs in cost units). */
export function searchProgress(
  sweep: LoadedSweep,
  plan: SearchPlan,
  outcomes: ReadonlyMap<string, StoredOutcome>,
  workers: number,
): SearchProgress {
  const settings = sweep.search!;
  const cost = (t: ExpandedTask): number => estimateCost(t.params);
  const budget = searchBudget(sweep, outcomes, cost, workers);
  const current = plan.missing.reduce((a, t) => a + cost(t), 0);
  const swept = (sweep.varying ?? []).filter((p) => p !== 'batch_size' && p !== 'seed');
  const groups = plan.groups.map((g): SearchGroupProgress => {
    const label = swept.map((p) => `${p}=${String(g.label[p])}`).join(' ') || 'all';
    const shape = { nTrain: Number(g.label.n_train), steps: Number(g.label.steps) };
    const state = g.state;
    const committed = state ? [...state.used, ...state.next] : [];
    const best = state?.best;
    return {
      label,
      phase: state ? state.phase : 'waiting',
      round: state ? state.round + (state.phase === 'done' ? 0 : 1) : 0,
      points: state?.points.length ?? 0,
      best: best ? { batchSize: best.batchSize, accuracy: best.mean, seeds: best.seeds } : null,
      bracket: state?.bracket ?? null,
      predicted: g.predicted,
      tasksUsed: committed.length,
      maxTasks: settings.maxTasks,
      epochsUsed: committed.reduce((a, p) => a + pointEpochs(shape, p.batchSize), 0),
      maxEpochs: epochBudget(settings, shape) ?? null,
    };
  });
  return {
    groups,
    laterCostExpected: Math.max(0, budget.expected.cpuSeconds - current),
    laterCostMax: Math.max(0, budget.maximum.cpuSeconds - current),
    laterTasksExpected: Math.max(0, budget.expected.tasks - plan.missing.length),
  };
}
