import { PiscinaRunner } from '../../pool/piscina-runner.js';
import { Coordinator, type RunSummary } from '../../scheduler/coordinator.js';
import { loadSweep, longTaskWarning, parseSweepText } from '../../sweep/index.js';
import { runSearch } from '../../scheduler/search-run.js';
import type { SearchProgress } from '../../scheduler/events.js';
import type { LoadedSweep } from '../../sweep/types.js';
import { SweepStore } from '../../storage/store.js';
import { resolveDatabasePath } from '../../paths.js';
import { createPlainReporter } from '../../ui/plain.js';
import { onStopSignals } from '../signals.js';
import { InputError } from '../../errors.js';
import { boptVersion } from '../../version.js';
import { engineNotice } from '../engine-notice.js';
import { BullmqRunner, storedResultCheck } from '../../queue/bullmq-runner.js';
import type { TaskRunner } from '../../pool/protocol.js';

export interface RunOptions {
  db?: string;
  workers?: number;
  retries: number;
  retryFailed: boolean;
  ui: boolean;
  /** redis://... : train on `bopt worker` processes through BullMQ instead of local threads. */
  queue?: string;
  queueName?: string;
  queueSlots?: number;
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
  const warning = longTaskWarning(sweep);
  if (warning) process.stderr.write(warning + '\n');
  const store = SweepStore.open(resolveDatabasePath(options.db));
  let runner: TaskRunner;
  try {
    runner = options.queue ? await queueRunner(sweep, store, options) : new PiscinaRunner({ workers: options.workers });
  } catch (e) {
    store.close();
    throw e;
  }
  let summary: RunSummary;
  try {
    summary = sweep.search
      ? await runSearchRounds(sweep, store, runner, options)
      : await runOnce(sweep, store, runner, options);
  } finally {
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
      `bopt: ${summary.failed} task(s) failed (see: bopt query "SELECT * FROM failures WHERE sweep = '${sweep.name}'"); ` +
        'rerun them with: bopt run FILE --retry-failed\n',
    );
    return 1;
  }
  return 0;
}

/** One coordinator over the sweep's tasks, with the UI and Ctrl-C handling attached. */
async function runOnce(
  sweep: LoadedSweep,
  store: SweepStore,
  runner: TaskRunner,
  options: RunOptions,
  search?: { progress: SearchProgress; attach: (coordinator: Coordinator) => () => void },
): Promise<RunSummary> {
  const coordinator = new Coordinator({
    store,
    sweep,
    runner,
    codeVersion: boptVersion(),
    retries: options.retries,
    retryFailed: options.retryFailed,
    ...(search ? { search: search.progress } : {}),
  });
  const detachSearch = search?.attach(coordinator);
  const detachUi = await attachUi(coordinator, options.ui);
  const detachSignals = onStopSignals(
    () => coordinator.interrupt(),
    'bopt: second interrupt, exiting now; running tasks will be reclaimed on resume',
  );
  try {
    return await coordinator.run();
  } finally {
    detachSearch?.();
    detachSignals();
    await detachUi();
  }
}

/** A search sweep: rounds chosen by the search (src/scheduler/search-run.ts), each with the UI attached. */
async function runSearchRounds(
  sweep: LoadedSweep,
  store: SweepStore,
  runner: TaskRunner,
  options: RunOptions,
): Promise<RunSummary> {
  let rounds = 0;
  const summary = await runSearch(sweep, store, {
    slots: runner.slots,
    codeVersion: boptVersion(),
    runRound: ({ sweep: round, progress, attach, first }) => {
      rounds++;
      return runOnce(
        round,
        store,
        runner,
        { ...options, retryFailed: options.retryFailed && first },
        { progress, attach },
      );
    },
  });
  // With no round to run no coordinator starts, so no reporter would say anything: say it here.
  if (rounds === 0)
    process.stdout.write(
      `sweep ${sweep.name}: search complete, ${summary.counts.done}/${summary.total} tasks done, ` +
        `${summary.failed} failed, nothing to run\n`,
    );
  return summary;
}

/**
 * Progress output: the live Ink UI when stdout is a terminal (and --no-ui was not given), plain lines
 * otherwise. Returns a function that detaches it. q in the UI goes through the same SIGINT handler as
 * Ctrl-C (a first one stops gracefully, a second exits).
 */
async function attachUi(coordinator: Coordinator, wantUi: boolean): Promise<() => Promise<void>> {
  if (wantUi && process.stdout.isTTY && process.env.TERM !== 'dumb') {
    const { mountLiveUi } = await import('../../ui/live.js');
    return mountLiveUi(coordinator, { onQuit: () => process.kill(process.pid, 'SIGINT') });
  }
  const off = coordinator.onEvent(createPlainReporter());
  return async () => off();
}

/** --queue: the coordinator trains nothing itself; BullMQ jobs go to `bopt worker` processes. */
async function queueRunner(sweep: LoadedSweep, store: SweepStore, options: RunOptions): Promise<TaskRunner> {
  if (options.workers !== undefined)
    throw new InputError(
      '--workers sets local threads; with --queue, set threads on each `bopt worker` and jobs in flight with --queue-slots',
    );
  return BullmqRunner.connect({
    url: options.queue!,
    queueName: options.queueName,
    slots: options.queueSlots,
    sweep: sweep.name,
    isStored: storedResultCheck(store),
  });
}

export function parseIntOption(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0) throw new InputError(`${name}: expected a non-negative integer, got "${value}"`);
    return n;
  };
}
