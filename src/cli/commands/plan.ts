import { availableParallelism, cpus } from 'node:os';
import { existsSync } from 'node:fs';
import { loadEngine } from '../../engines/registry.js';
import { planSweep, priceTasks, type StoredTiming } from '../../scheduler/plan.js';
import { searchBudget } from '../../scheduler/search-budget.js';
import { SweepStore } from '../../storage/store.js';
import { resolveDatabasePath } from '../../paths.js';
import { loadSweep } from '../../sweep/index.js';
import { formatDuration } from '../../ui/format.js';
import { engineNotice } from '../engine-notice.js';
import type { TrainConfig } from '../../engines/config.js';
import type { ExpandedTask } from '../../sweep/types.js';

export interface PlanOptions {
  db?: string;
  workers?: number;
}

/** `bopt plan FILE`: tasks, CPU time and wall time of a run, with nothing trained or written. */
export async function planCommand(file: string, options: PlanOptions): Promise<number> {
  const sweep = loadSweep(file);
  const notice = engineNotice(sweep);
  if (notice) process.stderr.write(notice + '\n');
  const dbPath = resolveDatabasePath(options.db);
  let stored: StoredTiming[] = [];
  let done = new Set<string>();
  let outcomes = new Map<string, { testAccuracy: number | null }>();
  if (existsSync(dbPath)) {
    const store = SweepStore.openReadOnly(dbPath);
    try {
      ({ stored, done, outcomes } = store.reader.storedTimings());
    } finally {
      store.close();
    }
  }
  const workers = options.workers ?? availableParallelism();
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  const onWorkers = `on ${workers} worker${workers === 1 ? '' : 's'} (${cpu})`;
  const hours = (seconds: number): string =>
    `${Math.round(seconds)} CPU-seconds (${(seconds / 3600).toFixed(2)} CPU-hours)`;
  const calibration = (fromDatabase: number, fromProbe: number, probeSeconds: number): string =>
    `calibration: ${fromDatabase} task(s) from stored wall times of similar tasks, ${fromProbe} from a probe` +
    (fromProbe ? ` trained here (${probeSeconds.toFixed(1)} s)` : '');
  const planOptions = { workers, done, stored, loadFactory: (cfg: TrainConfig) => loadEngine(cfg.engine) };
  if (sweep.search) {
    const candidates = sweep.tasks.filter((t) => !done.has(t.key));
    const prices = await priceTasks(candidates, planOptions);
    const secondsOf = (t: ExpandedTask): number => prices.seconds.get(t)?.seconds ?? 0;
    const budget = searchBudget(sweep, outcomes, secondsOf, workers);
    const estimates = [...prices.seconds.values()];
    const lines = [
      `sweep ${sweep.name}: adaptive search over ${sweep.tasks.length} candidate tasks, ` +
        `${budget.stored} of its chosen tasks already in ${dbPath}`,
      `expected: ${budget.expected.tasks} tasks to run, ${hours(budget.expected.cpuSeconds)}, ` +
        `wall time ${formatDuration(budget.expected.wallSeconds * 1000)} ${onWorkers}`,
      `maximum:  ${budget.maximum.tasks} tasks to run, ${hours(budget.maximum.cpuSeconds)}, ` +
        `wall time ${formatDuration(budget.maximum.wallSeconds * 1000)} (the budget spent on the costliest candidates)`,
      calibration(
        estimates.filter((e) => e.source === 'database').length,
        estimates.filter((e) => e.source === 'probe').length,
        prices.probeSeconds,
      ),
    ];
    process.stdout.write(lines.join('\n') + '\n');
    return 0;
  }
  const plan = await planSweep(sweep.tasks, planOptions);
  const lines = [
    `sweep ${sweep.name}: ${plan.tasks} tasks, ${plan.alreadyDone} already in ${dbPath}, ${plan.toRun.length} to run`,
    `CPU time: ${hours(plan.cpuSeconds)}`,
    `wall time: ${formatDuration(plan.wallSeconds * 1000)} ${onWorkers}`,
    calibration(plan.fromDatabase, plan.fromProbe, plan.probeSeconds),
  ];
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}
