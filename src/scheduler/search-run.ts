/**
 * Runs an adaptive search to the end: the search (replayed from the stored outcomes) chooses a round
 * of tasks, a coordinator trains them, and whenever a task finishes and its group's round is
 * complete, that group's next round joins the running coordinator, so no group waits for another's.
 * Tasks already stored by any sweep are reused, not retrained. The caller builds and runs each
 * coordinator (so it can attach its UI and signal handling), through `runRound`.
 */
import type { SweepStore } from '../storage/store.js';
import { withTasks } from '../sweep/index.js';
import type { LoadedSweep } from '../sweep/types.js';
import type { Coordinator, RunSummary } from './coordinator.js';
import type { SearchProgress } from './events.js';
import { searchProgress } from './search-budget.js';
import { planSearch } from './search-rounds.js';

export interface SearchRound {
  /** The sweep to register and train: every task the search has chosen so far. */
  sweep: LoadedSweep;
  /** Where the search stands, for the coordinator's sweep-start event. */
  progress: SearchProgress;
  /** Subscribe the running coordinator so later rounds join it; returns the unsubscribe. */
  attach: (coordinator: Coordinator) => () => void;
  /** True for the first round of this run (e.g. to retry failed tasks only once). */
  first: boolean;
}

export async function runSearch(
  sweep: LoadedSweep,
  store: SweepStore,
  options: { slots: number; codeVersion: string; runRound: (round: SearchRound) => Promise<RunSummary> },
): Promise<RunSummary> {
  const candidateKeys = sweep.tasks.map((t) => t.key);
  const started = Date.now();
  let trained = 0;
  for (let first = true; ; first = false) {
    const outcomes = store.finishedOutcomes(candidateKeys);
    const plan = planSearch(sweep, outcomes);
    const round = withTasks(sweep, plan.chosen);
    if (plan.done || plan.missing.length === 0) {
      // Record the final membership (a search over stored results may train nothing at all).
      store.registerSweep(round, options.codeVersion);
      const counts = store.counts(store.requireSweep(sweep.name).id);
      return {
        sweep: sweep.name,
        counts,
        total: counts.total,
        trained,
        failed: counts.failed,
        interrupted: false,
        wallMs: Date.now() - started,
      };
    }
    const queued = new Set(plan.missing.map((t) => t.key));
    const attach = (coordinator: Coordinator): (() => void) =>
      coordinator.onEvent((e) => {
        if (e.type !== 'task-done' && e.type !== 'task-failed') return;
        const now = store.finishedOutcomes(candidateKeys);
        const next = planSearch(sweep, now);
        const fresh = next.missing.filter((t) => !queued.has(t.key));
        if (fresh.length === 0) return;
        for (const t of fresh) queued.add(t.key);
        coordinator.extend(fresh, searchProgress(sweep, next, now, options.slots));
      });
    const progress = searchProgress(sweep, plan, outcomes, options.slots);
    const last = await options.runRound({ sweep: round, progress, attach, first });
    trained += last.trained;
    if (last.interrupted) return { ...last, trained, wallMs: Date.now() - started };
  }
}
