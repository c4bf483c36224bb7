/**
 * Plain-line progress for pipes, CI, nohup files and --no-ui: a progress line every 10 s, or sooner
 * when another 5 % of the sweep's cost is done, one line per failure, and a final summary (with B_opt
 * per group), so a long sweep's log stays short. No colour codes, no cursor movement. Built on
 * the same state as the live UI, so its ETA is the same cost-model ETA.
 */
import type { SweepEvent } from '../scheduler/events.js';
import { formatDuration } from './format.js';
import { bOptText, fitText } from './fit-text.js';
import type { ScienceGroup } from './science.js';
import { searchGroupText, searchSummary } from './search-text.js';
import { applyEvent, createState, doneFraction, snapshot, type ViewModel } from './state.js';

/** A search round's log lists at most this many groups (the rest as a count). */
const MAX_GROUP_LINES = 12;

export interface PlainReporterOptions {
  write?: (line: string) => void;
  /** A progress line at least this often while tasks report (default 10 s). */
  intervalMs?: number;
  /** ... and sooner when the done share of the cost grew by this much since the last line (default 0.05). */
  costStep?: number;
  now?: () => number;
}

export function progressLine(vm: ViewModel): string {
  const { done, running, pending, failed } = vm.counts;
  const rate =
    vm.tasksPerMinute === null ? '' : `, ${vm.tasksPerMinute.toFixed(vm.tasksPerMinute < 10 ? 1 : 0)} tasks/min`;
  const eta = vm.etaMs !== null && vm.etaMs > 0 ? `, eta ${formatDuration(vm.etaMs)}` : '';
  return (
    `progress: ${done}/${vm.total} done, ${running} running, ${pending} pending, ${failed} failed ` +
    `(${Math.floor(vm.fraction * 100)}% of cost)${rate}${eta}`
  );
}

/** Groups a summary line lists in full; above this it lists the best SUMMARY_TOP_GROUPS and a count. */
export const SUMMARY_ALL_GROUPS = 8;
export const SUMMARY_TOP_GROUPS = 5;

/**
 * "B_opt: eps=0.5 -> 32 (acc 0.950), eps=1 -> 64 (acc 0.950); fit ..." or null before any result. A
 * sweep of many groups lists its most accurate few and how many more there are, so the line stays
 * readable at any grid size (`bopt fit` shows them all).
 */
export function scienceLine(vm: ViewModel): string | null {
  const s = vm.science;
  if (s.groups.length === 0) return null;
  const describe = (g: ScienceGroup): string => `${g.label} -> ${bOptText(g)}`;
  const fit = s.fit ? `; ${fitText(s)}` : '';
  if (s.groups.length <= SUMMARY_ALL_GROUPS) return `B_opt: ${s.groups.map(describe).join(', ')}${fit}`;
  const top = [...s.groups].sort((a, b) => b.bestAccuracy - a.bestAccuracy).slice(0, SUMMARY_TOP_GROUPS);
  const rest = s.groups.length - top.length;
  const all = vm.sweep ? `: bopt fit ${vm.sweep}` : '';
  return `B_opt, the ${top.length} most accurate of ${s.groups.length} groups: ${top.map(describe).join(', ')}; ${rest} more${all}${fit}`;
}

export function createPlainReporter(options: PlainReporterOptions = {}): (e: SweepEvent) => void {
  const write = options.write ?? ((line: string) => process.stdout.write(line + '\n'));
  const intervalMs = options.intervalMs ?? 10_000;
  const costStep = options.costStep ?? 0.05;
  const now = options.now ?? Date.now;
  const state = createState(now());
  let lastLine = -Infinity;
  let lastFraction = 0;

  return (e: SweepEvent) => {
    const t = now();
    applyEvent(state, e, t);
    switch (e.type) {
      case 'tasks-added':
        if (e.tasks > 0) write(`+${e.tasks} tasks${e.search ? `; ${searchSummary(e.search)}` : ''}`);
        return;
      case 'sweep-start': {
        const c = e.counts;
        const total = c.pending + c.running + c.done + c.failed;
        write(
          `sweep ${e.sweep}: ${total} tasks (${c.done} already done, ${c.pending + c.running} to run) ` +
            `on ${e.workers} worker${e.workers === 1 ? '' : 's'}, engine ${e.engine}, database ${e.database}`,
        );
        if (e.search) {
          write(searchSummary(e.search));
          const shown = e.search.groups.slice(0, MAX_GROUP_LINES);
          for (const g of shown) write(`  ${searchGroupText(g)}`);
          if (e.search.groups.length > shown.length) write(`  … ${e.search.groups.length - shown.length} more groups`);
        }
        lastLine = t;
        lastFraction = doneFraction(state);
        return;
      }
      case 'task-retry':
        write(`retry: task ${e.key.slice(0, 12)} attempt ${e.attempt} failed: ${e.error}`);
        return;
      case 'task-failed':
        write(`failed: task ${e.key.slice(0, 12)} after ${e.attempts} attempts: ${e.error}`);
        return;
      case 'store-blocked':
        write(
          `waiting: database ${e.problem}; the write is kept and retried in ${formatDuration(e.retryInMs)} ` +
            `(blocked for ${formatDuration(e.waitedMs)})`,
        );
        return;
      case 'paused':
        write(e.paused ? 'paused: dispatch stopped, running tasks continue' : 'resumed');
        return;
      case 'sweep-end': {
        const vm = snapshot(state, t);
        const science = scienceLine(vm);
        if (science) write(science);
        write(
          `${e.reason === 'complete' ? 'finished' : 'interrupted'}: ${e.counts.done}/${vm.total} done, ` +
            `${e.counts.failed} failed, ${e.counts.pending} pending in ${formatDuration(e.wallMs)}`,
        );
        return;
      }
      default: {
        const fraction = doneFraction(state);
        if (t - lastLine >= intervalMs || fraction - lastFraction >= costStep) {
          lastLine = t;
          lastFraction = fraction;
          write(progressLine(snapshot(state, t)));
        }
      }
    }
  };
}
