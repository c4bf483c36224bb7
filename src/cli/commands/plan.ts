import { availableParallelism, cpus } from 'node:os';
import { existsSync } from 'node:fs';
import { loadEngine } from '../../engines/registry.js';
import { planSweep, type StoredTiming } from '../../scheduler/plan.js';
import { SweepStore } from '../../storage/store.js';
import { resolveDatabasePath } from '../../paths.js';
import { loadSweep } from '../../sweep/index.js';
import { formatDuration } from '../../ui/format.js';
import { engineNotice } from '../engine-notice.js';

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
  if (existsSync(dbPath)) {
    const store = SweepStore.openReadOnly(dbPath);
    try {
      ({ stored, done } = store.reader.storedTimings());
    } finally {
      store.close();
    }
  }
  const workers = options.workers ?? availableParallelism();
  const plan = await planSweep(sweep.tasks, {
    workers,
    done,
    stored,
    loadFactory: (cfg) => loadEngine(cfg.engine),
  });
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  const lines = [
    `sweep ${sweep.name}: ${plan.tasks} tasks, ${plan.alreadyDone} already in ${dbPath}, ${plan.toRun.length} to run`,
    `CPU time: ${Math.round(plan.cpuSeconds)} CPU-seconds (${(plan.cpuSeconds / 3600).toFixed(2)} CPU-hours)`,
    `wall time: ${formatDuration(plan.wallSeconds * 1000)} on ${workers} worker${workers === 1 ? '' : 's'} (${cpu})`,
    `calibration: ${plan.fromDatabase} task(s) from stored wall times of similar tasks, ${plan.fromProbe} from a probe` +
      (plan.fromProbe ? ` trained here (${plan.probeSeconds.toFixed(1)} s)` : ''),
  ];
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}
