/** One-line texts of an adaptive search's progress, shared by the live UI and the plain log. */
import type { SearchGroupProgress, SearchProgress } from '../scheduler/events.js';
import { compactNumber } from './format.js';

/** "search: 6 groups (2 bracket · 1 seeds · 3 waiting); later rounds ~40 tasks expected". */
export function searchSummary(s: SearchProgress): string {
  const phases = ['coarse', 'bracket', 'seeds', 'waiting', 'done'] as const;
  const counts = phases
    .map((p) => [p, s.groups.filter((g) => g.phase === p).length] as const)
    .filter(([, n]) => n > 0)
    .map(([p, n]) => `${n} ${p}`)
    .join(' · ');
  const later =
    s.laterTasksExpected === 0 ? 'no later rounds expected' : `later rounds ~${s.laterTasksExpected} tasks expected`;
  return `search: ${s.groups.length} groups (${counts}); ${later}`;
}

/** "n_train=5000  bracket r3  B 36..67  best 45 (0.9123, 5 seeds)  predicted 50  tasks 14/60  epochs 3.2k/15k". */
export function searchGroupText(g: SearchGroupProgress): string {
  const parts = [g.label, g.phase === 'waiting' ? 'waiting for the prior' : `${g.phase} r${g.round}`];
  if (g.bracket) parts.push(`B ${compactNumber(g.bracket[0])}..${compactNumber(g.bracket[1])}`);
  if (g.best)
    parts.push(`best ${compactNumber(g.best.batchSize)} (${g.best.accuracy.toFixed(4)}, ${g.best.seeds} seeds)`);
  if (g.predicted !== null) parts.push(`predicted ${compactNumber(Math.round(g.predicted))}`);
  parts.push(`${g.points} points`, `tasks ${g.tasksUsed}/${g.maxTasks}`);
  if (g.maxEpochs !== null)
    parts.push(`epochs ${compactNumber(Math.round(g.epochsUsed))}/${compactNumber(g.maxEpochs)}`);
  return parts.join('  ');
}
