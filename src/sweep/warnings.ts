/**
 * Values that are legal but probably a mistake: said once when the sweep is loaded, not refused.
 */
import { longestTaskOf } from './expand.js';
import { displayPath } from './load.js';
import type { LoadedSweep } from './types.js';

/** Training examples (steps × effective batch size) above which one task takes hours even on the native engine. */
export const LONG_TASK_EXAMPLES = 1e10;

/** One line about the longest task when it trains more than LONG_TASK_EXAMPLES examples, else null. */
export function longTaskWarning(sweep: LoadedSweep): string | null {
  // A grid found its longest task while its points were checked: no second pass over millions of points.
  const longest = sweep.longestTask !== undefined ? sweep.longestTask : longestTaskOf(sweep.tasks.map((t) => t.params));
  if (!longest || longest.examples <= LONG_TASK_EXAMPLES) return null;
  return (
    `bopt: warning: ${displayPath(sweep.file)}: steps: a task trains ${longest.steps} steps of batch ${longest.batch} ` +
    `(${longest.examples.toExponential(1)} examples), which takes days; \`bopt plan\` prices the sweep`
  );
}
