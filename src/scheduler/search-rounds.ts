/**
 * A search sweep's next round over all its groups: which tasks the search has chosen so far (they
 * become the sweep's members) and which of them still need training. A pure function of the sweep
 * and the stored outcomes of its candidate tasks, so a resumed run replays to the same tasks.
 */
import type { ExpandedTask, LoadedSweep } from '../sweep/types.js';
import { predictBopt, priorGroups, searchGroup, type Observation, type SearchState } from '../search/policy.js';

/** What the planner needs of a stored task: accuracy null for a failed or diverged run. */
export interface StoredOutcome {
  testAccuracy: number | null;
}

export interface GroupPlan {
  /** The group's fixed parameters (everything but batch size and seed). */
  label: Record<string, unknown>;
  /** Null until the groups it waits for (for the theory prior) are done. */
  state: SearchState | null;
  /** The B_opt predicted from the groups searched before it (null without prior). */
  predicted: number | null;
}

export interface SearchPlan {
  groups: GroupPlan[];
  /** Every task the search has chosen so far, in a deterministic order. */
  chosen: ExpandedTask[];
  /** The chosen tasks without a stored outcome. */
  missing: ExpandedTask[];
  done: boolean;
}

/** The candidate tasks of one group (every parameter but batch size and seed), in the sweep's order. */
export interface Group {
  label: Record<string, unknown>;
  tasks: Map<string, ExpandedTask>; // "batch:seed" → task
}

const pointKey = (batchSize: number, seed: number): string => `${batchSize}:${seed}`;

export function groupsOf(tasks: readonly ExpandedTask[]): Group[] {
  const groups = new Map<string, Group>();
  for (const t of tasks) {
    const { batch_size: _b, seed: _s, ...rest } = t.params;
    const id = JSON.stringify(rest);
    let g = groups.get(id);
    if (!g) groups.set(id, (g = { label: rest, tasks: new Map() }));
    g.tasks.set(pointKey(t.params.batch_size, t.params.seed), t);
  }
  return [...groups.values()];
}

export function planSearch(sweep: LoadedSweep, outcomes: ReadonlyMap<string, StoredOutcome>): SearchPlan {
  const settings = sweep.search;
  if (!settings) throw new Error(`sweep "${sweep.name}" has no search section`);
  const groups = groupsOf(sweep.tasks);
  const plans: GroupPlan[] = [];
  const chosen: ExpandedTask[] = [];
  for (let j = 0; j < groups.length; j++) {
    const g = groups[j];
    const before = plans.slice(0, priorGroups(j));
    if (before.some((p) => p.state?.phase !== 'done' || !p.state.best)) {
      plans.push({ label: g.label, state: null, predicted: null });
      continue;
    }
    let predicted: number | null = null;
    if (settings.prior) {
      const finished = before.map((p, i) => {
        const params = groups[i].tasks.values().next().value!.params;
        return { lr: params.lr, nTrain: params.n_train, momentum: params.momentum, bopt: p.state!.best!.batchSize };
      });
      const t = g.tasks.values().next().value!.params;
      predicted = predictBopt(finished, { lr: t.lr, nTrain: t.n_train, momentum: t.momentum })?.bopt ?? null;
    }
    const observations: Observation[] = [];
    for (const [point, task] of g.tasks) {
      const o = outcomes.get(task.key);
      if (!o) continue;
      const [batchSize, seed] = point.split(':').map(Number);
      observations.push({ batchSize, seed, accuracy: o.testAccuracy });
    }
    const { n_train: nTrain, steps } = g.tasks.values().next().value!.params;
    const state = searchGroup(settings, observations, predicted, { nTrain, steps });
    plans.push({ label: g.label, state, predicted });
    for (const p of [...state.used, ...state.next]) chosen.push(g.tasks.get(pointKey(p.batchSize, p.seed))!);
  }
  const missing = chosen.filter((t) => !outcomes.has(t.key));
  const done = plans.every((p) => p.state?.phase === 'done');
  return { groups: plans, chosen, missing, done };
}
