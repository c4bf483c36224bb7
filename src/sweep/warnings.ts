/**
 * Values that are legal but probably a mistake: said once when the sweep is loaded, not refused.
 */
import { sweepTasks } from './grid.js';
import { displayPath } from './load.js';
import type { LoadedSweep } from './types.js';

/** Training examples (steps × effective batch size) above which one task takes hours even on the native engine. */
export const LONG_TASK_EXAMPLES = 1e10;

/** One line about the longest task when it trains more than LONG_TASK_EXAMPLES examples, else null. */
export function longTaskWarning(sweep: LoadedSweep): string | null {
  let longest: { steps: number; batch: number; examples: number } | null = null;
  // Streamed: a grid of millions of points must not be held in memory to be checked.
  for (const t of sweepTasks(sweep)) {
    const batch = Math.min(t.params.batch_size, t.params.n_train);
    const examples = t.params.steps * batch;
    if (examples > LONG_TASK_EXAMPLES && (!longest || examples > longest.examples))
      longest = { steps: t.params.steps, batch, examples };
  }
  if (!longest) return null;
  return (
    `bopt: warning: ${displayPath(sweep.file)}: steps: a task trains ${longest.steps} steps of batch ${longest.batch} ` +
    `(${longest.examples.toExponential(1)} examples), which takes days; \`bopt plan\` prices the sweep`
  );
}
