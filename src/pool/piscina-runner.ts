import { availableParallelism } from 'node:os';
import { randomUUID } from 'node:crypto';
import { BroadcastChannel } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type { JobOutcome, JobProgress, RunJobOptions, TaskRunner, TrainJob } from './protocol.js';

/** What the pool posts to a worker thread: the job, and its shared thread count where it has one. */
export type PoolTask = TrainJob & { threads?: Int32Array };

export interface PiscinaRunnerOptions {
  /** Worker threads; default one per core. */
  workers?: number;
  /** Worker module (URL or path); default the training worker beside this file. */
  filename?: string;
  /** Minimum ms between progress messages of one task. */
  progressIntervalMs?: number;
}

/** The worker module beside this file, in whichever form (compiled .js, or .ts under tsx) is running. */
function defaultWorker(): { filename: string; execArgv: string[] } {
  const self = import.meta.url;
  if (self.endsWith('.ts')) return { filename: new URL('./worker.ts', self).href, execArgv: ['--import', 'tsx'] };
  return { filename: new URL('./worker.js', self).href, execArgv: [] };
}

/** Runs jobs on a Piscina pool of worker threads on this machine, one task per thread at a time. */
export class PiscinaRunner implements TaskRunner {
  readonly slots: number;
  readonly description: string;
  readonly sharesCores = true;
  private readonly pool: Piscina;
  private readonly channel: BroadcastChannel;
  private readonly listeners = new Map<string, (p: JobProgress) => void>();

  constructor(options: PiscinaRunnerOptions = {}) {
    this.slots = options.workers ?? availableParallelism();
    if (!Number.isInteger(this.slots) || this.slots < 1)
      throw new RangeError(`workers must be a positive integer, got ${this.slots}`);
    const channelName = `bopt-progress-${randomUUID()}`;
    this.channel = new BroadcastChannel(channelName);
    this.channel.unref();
    this.channel.onmessage = (event: unknown) => {
      const p = (event as { data: JobProgress }).data;
      this.listeners.get(p.key)?.(p);
    };
    const worker = options.filename ? { filename: options.filename, execArgv: [] } : defaultWorker();
    this.pool = new Piscina({
      filename: worker.filename,
      execArgv: worker.execArgv,
      minThreads: this.slots,
      maxThreads: this.slots,
      concurrentTasksPerWorker: 1,
      idleTimeout: 60_000,
      workerData: { progressChannel: channelName, progressIntervalMs: options.progressIntervalMs ?? 200 },
    });
    this.description = `${this.slots} worker thread${this.slots === 1 ? '' : 's'}`;
  }

  async run(job: TrainJob, options: RunJobOptions): Promise<JobOutcome> {
    this.listeners.set(job.key, options.onProgress);
    try {
      const task: PoolTask = options.threads ? { ...job, threads: options.threads } : job;
      return (await this.pool.run(task, { signal: options.signal })) as JobOutcome;
    } finally {
      this.listeners.delete(job.key);
    }
  }

  async close(): Promise<void> {
    this.channel.close();
    await this.pool.destroy();
  }
}
