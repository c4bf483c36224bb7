/**
 * Plain-line progress for pipes, CI and --no-ui: at most one progress line per interval, one line per
 * failure, and a final summary. No colour codes, no cursor movement.
 */
import type { StateCounts, SweepEvent } from '../scheduler/events.js';
import { formatDuration } from './format.js';

export interface PlainReporterOptions {
  write?: (line: string) => void;
  intervalMs?: number;
  now?: () => number;
}

export function createPlainReporter(options: PlainReporterOptions = {}): (e: SweepEvent) => void {
  const write = options.write ?? ((line: string) => process.stdout.write(line + '\n'));
  const intervalMs = options.intervalMs ?? 1000;
  const now = options.now ?? Date.now;
  let counts: StateCounts = { pending: 0, running: 0, done: 0, failed: 0 };
  let total = 0;
  let remainingCost = 0;
  let doneCost = 0;
  let startedAt = now();
  let lastLine = 0;

  const progressLine = (): string => {
    const elapsed = (now() - startedAt) / 1000;
    const rate = elapsed > 0 ? doneCost / elapsed : 0;
    const left = remainingCost - doneCost;
    const eta = rate > 0 && left > 0 ? ` eta ${formatDuration((left / rate) * 1000)}` : '';
    return `progress: ${counts.done}/${total} done, ${counts.running} running, ${counts.pending} pending, ${counts.failed} failed${eta}`;
  };

  return (e: SweepEvent) => {
    switch (e.type) {
      case 'sweep-start':
        counts = { ...e.counts, running: 0 };
        total = e.counts.pending + e.counts.running + e.counts.done + e.counts.failed;
        remainingCost = e.remainingCost;
        startedAt = now();
        write(`sweep ${e.sweep}: ${total} tasks (${e.counts.done} already done, ${e.counts.pending} to run) on ${e.workers} workers, engine ${e.engine}, database ${e.database}`);
        return;
      case 'task-start':
        counts.pending--;
        counts.running++;
        break;
      case 'task-done':
        counts.running--;
        counts.done++;
        doneCost += e.cost;
        break;
      case 'task-retry':
        counts.running--;
        counts.pending++;
        write(`retry: task ${e.key.slice(0, 12)} attempt ${e.attempt} failed: ${e.error}`);
        break;
      case 'task-failed':
        counts.running--;
        counts.failed++;
        doneCost += 0;
        write(`failed: task ${e.key.slice(0, 12)} after ${e.attempts} attempts: ${e.error}`);
        break;
      case 'paused':
        write(e.paused ? 'paused: dispatch stopped, running tasks continue' : 'resumed');
        return;
      case 'sweep-end':
        counts = e.counts;
        write(
          `${e.reason === 'complete' ? 'finished' : 'interrupted'}: ${e.counts.done}/${total} done, ${e.counts.failed} failed, ${e.counts.pending} pending in ${formatDuration(e.wallMs)}`,
        );
        return;
      case 'task-progress':
        break;
    }
    const t = now();
    if (t - lastLine >= intervalMs) {
      lastLine = t;
      write(progressLine());
    }
  };
}
