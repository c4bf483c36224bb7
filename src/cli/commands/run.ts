import { PiscinaRunner } from '../../pool/piscina-runner.js';
import { Coordinator, type RunSummary } from '../../scheduler/coordinator.js';
import { loadSweep, parseSweepText } from '../../spec/index.js';
import type { LoadedSweep } from '../../spec/types.js';
import { SweepStore } from '../../storage/store.js';
import { resolveDatabasePath } from '../../paths.js';
import { createPlainReporter } from '../../ui/plain.js';
import { BoptError } from '../../errors.js';
import { boptVersion } from '../version.js';
import { engineNotice } from '../engine-notice.js';

export interface RunOptions {
  db?: string;
  workers?: number;
  retries: number;
  retryFailed: boolean;
  ui: boolean;
}

/** `bopt run FILE`: expand, store idempotently, train what is pending. Returns the process exit code. */
export async function runCommand(file: string, options: RunOptions): Promise<number> {
  const sweep = loadSweep(file);
  return runSweep(sweep, options);
}

/** `bopt resume SWEEP`: the same, from the spec stored with the sweep. */
export async function resumeCommand(name: string, options: RunOptions): Promise<number> {
  const store = SweepStore.open(resolveDatabasePath(options.db));
  let sweep: LoadedSweep;
  try {
    const record = store.requireSweep(name);
    sweep = parseSweepText(record.spec, record.file ?? `${name} (stored spec)`);
  } finally {
    store.close();
  }
  return runSweep(sweep, options);
}

async function runSweep(sweep: LoadedSweep, options: RunOptions): Promise<number> {
  const notice = engineNotice(sweep);
  if (notice) process.stderr.write(notice + '\n');
  const store = SweepStore.open(resolveDatabasePath(options.db));
  const runner = new PiscinaRunner({ workers: options.workers });
  const coordinator = new Coordinator({
    store,
    sweep,
    runner,
    codeVersion: boptVersion(),
    retries: options.retries,
    retryFailed: options.retryFailed,
  });
  const detachUi = await attachUi(coordinator, options.ui);
  let signals = 0;
  const onSignal = (): void => {
    signals++;
    if (signals > 1) {
      process.stderr.write('bopt: second interrupt, exiting now; running tasks will be reclaimed on resume\n');
      process.exit(130);
    }
    coordinator.interrupt();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let summary: RunSummary;
  try {
    summary = await coordinator.run();
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await detachUi();
    await runner.close();
    store.close();
  }
  if (summary.interrupted) {
    process.stderr.write(
      `bopt: interrupted; ${summary.counts.done}/${summary.total} done, the rest is pending. Resume with: bopt resume ${sweep.name}\n`,
    );
    return 130;
  }
  if (summary.failed > 0) {
    process.stderr.write(
      `bopt: ${summary.failed} task(s) failed (see: bopt query "SELECT * FROM failures WHERE sweep = '${sweep.name}'"); rerun them with: bopt run FILE --retry-failed\n`,
    );
    return 1;
  }
  return 0;
}

/** Progress output; the live terminal UI plugs in here. Returns a function that detaches it. */
async function attachUi(coordinator: Coordinator, _wantUi: boolean): Promise<() => Promise<void>> {
  const off = coordinator.onEvent(createPlainReporter());
  return async () => off();
}

export function parseIntOption(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0) throw new BoptError(`${name}: expected a non-negative integer, got "${value}"`);
    return n;
  };
}
