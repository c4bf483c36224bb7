/**
 * `bopt worker`: takes jobs from the BullMQ queue and trains them in a local Piscina pool, N at a
 * time, with the same engines as `bopt run`. Progress goes back with job.updateProgress, the outcome
 * as the job's return value. Training runs on worker threads, so this thread stays free to renew the
 * jobs' locks: a job loses its lock only when this process dies or hangs, and then BullMQ's stalled
 * check (run by every worker) puts it back in the queue for another worker.
 *
 * A job queued by a coordinator of another bopt or engine version is refused: it fails at once with
 * an UnrecoverableError naming both versions, which the coordinator stores as the task's error.
 *
 * Stopping (SIGINT/SIGTERM, Slurm's or Kubernetes' preemption): no new job is taken, running
 * trainings are aborted and their jobs handed back to the queue at once (not counted as a failure);
 * a second signal exits immediately, and the stalled check hands the jobs back after --stall-ms.
 */
import { availableParallelism, hostname } from 'node:os';
import { UnrecoverableError, WaitingError, Worker, type Job } from 'bullmq';
import { PiscinaRunner } from '../pool/piscina-runner.js';
import type { JobProgress } from '../pool/protocol.js';
import { boptVersion as currentBoptVersion } from '../version.js';
import { OptionError } from '../errors.js';
import {
  DEFAULT_QUEUE_NAME,
  bullmqOptions,
  checkQueueName,
  parseQueueUrl,
  ConnectWatch,
  preflight,
  type QueueEndpoint,
} from './connection.js';
import { encodeNonFinite, localVersions, versionRefusal, type QueueJobData } from './protocol.js';

export interface QueueWorkerOptions {
  url: string;
  queueName?: string;
  /** Jobs trained at once (Piscina threads and BullMQ concurrency); default one per core. */
  workers?: number;
  /**
   * A job whose worker stops renewing its lock for this long is handed to another worker; also the
   * period of the stalled check. Default 30 s (BullMQ's default).
   */
  stallMs?: number;
  /** Minimum ms between progress updates of one job (each is a Redis write). Default 500. */
  progressIntervalMs?: number;
  /** This worker's bopt version (tests pretend to be another); default this bopt's. */
  boptVersion?: string;
  /** One line of news (default: stderr). */
  log?: (line: string) => void;
  connectTimeoutMs?: number;
}

export interface QueueWorkerStats {
  trained: number;
  failed: number;
  refused: number;
  handedBack: number;
}

export class QueueWorker {
  readonly stats: QueueWorkerStats = { trained: 0, failed: 0, refused: 0, handedBack: 0 };
  readonly endpoint: QueueEndpoint;
  readonly queueName: string;
  readonly concurrency: number;
  readonly name = `${hostname()}:${process.pid}`;
  private readonly pool: PiscinaRunner;
  private readonly worker: Worker<QueueJobData>;
  private readonly running = new Map<string, AbortController>();
  private readonly versions;
  private readonly log: (line: string) => void;
  private stopping: Promise<void> | null = null;
  private readonly connecting: ConnectWatch;
  private lastErrorPrinted = 0;

  static async start(options: QueueWorkerOptions): Promise<QueueWorker> {
    await preflight(parseQueueUrl(options.url), options.connectTimeoutMs ?? 10_000);
    const w = new QueueWorker(options);
    try {
      await w.connecting.ready(w.worker.waitUntilReady(), options.connectTimeoutMs ?? 10_000);
    } catch (e) {
      await w.stop(true).catch(() => undefined);
      throw e;
    }
    return w;
  }

  private constructor(options: QueueWorkerOptions) {
    this.endpoint = parseQueueUrl(options.url);
    this.connecting = new ConnectWatch(this.endpoint);
    this.queueName = checkQueueName(options.queueName ?? DEFAULT_QUEUE_NAME);
    this.concurrency = options.workers ?? availableParallelism();
    if (!Number.isInteger(this.concurrency) || this.concurrency < 1)
      throw new OptionError('workers', `expected a positive integer, got ${this.concurrency}`);
    const stallMs = options.stallMs ?? 30_000;
    if (!Number.isInteger(stallMs) || stallMs < 200)
      throw new OptionError('stallMs', `expected an integer of at least 200, got ${stallMs}`);
    this.versions = localVersions(options.boptVersion ?? currentBoptVersion());
    this.log = options.log ?? ((line) => process.stderr.write(`bopt worker: ${line}\n`));
    this.pool = new PiscinaRunner({ workers: this.concurrency, progressIntervalMs: options.progressIntervalMs ?? 500 });
    this.worker = new Worker<QueueJobData>(this.queueName, (job, token, signal) => this.process(job, token, signal), {
      ...bullmqOptions(this.endpoint),
      // Shown as the job's processedBy: which machine and process holds a running job.
      name: this.name,
      concurrency: this.concurrency,
      lockDuration: stallMs,
      stalledInterval: stallMs,
      // A job whose worker died twice fails; the coordinator then counts a failed attempt and retries.
      maxStalledCount: 1,
      autorun: true,
    });
    this.worker.on('error', (e) => this.noteError(e));
  }

  get description(): string {
    const threads = `${this.concurrency} thread${this.concurrency === 1 ? '' : 's'}`;
    return `bopt ${this.versions.boptVersion}, ${threads}, queue "${this.queueName}" at ${this.endpoint.display}`;
  }

  /**
   * Stop taking jobs, hand the running ones back to the queue, close. With `now`, close at once and
   * leave running jobs to the stalled check.
   */
  stop(now = false): Promise<void> {
    this.stopping ??= (async () => {
      const closing = this.worker.close(now);
      for (const ac of this.running.values()) ac.abort(new Error('worker stopping'));
      await closing.catch((e: Error) => this.noteError(e));
      await this.pool.close();
    })();
    return this.stopping;
  }

  private async process(job: Job<QueueJobData>, token: string | undefined, signal?: AbortSignal): Promise<unknown> {
    const refusal = versionRefusal(job.data, this.versions, this.name);
    if (refusal) {
      this.stats.refused++;
      this.log(`refused task ${job.id}: ${refusal}`);
      throw new UnrecoverableError(refusal);
    }
    const ac = new AbortController();
    const key = job.data.job.key;
    this.running.set(key, ac);
    const onCancel = (): void => ac.abort(signal?.reason);
    signal?.addEventListener('abort', onCancel, { once: true });
    try {
      const outcome = await this.pool.run(job.data.job, {
        signal: ac.signal,
        onProgress: (p: JobProgress) => {
          // Step 0 says only "started": the job is already active in Redis, so spare the write.
          if (p.step === 0) return;
          job.updateProgress({ ...p }).catch((e: Error) => this.noteError(e));
        },
      });
      this.stats.trained++;
      return encodeNonFinite(outcome);
    } catch (e) {
      if (this.stopping && token) {
        // Back to the queue now, untouched (no attempt counted), for another worker.
        await job.moveToWait(token);
        this.stats.handedBack++;
        throw new WaitingError();
      }
      this.stats.failed++;
      throw e;
    } finally {
      signal?.removeEventListener('abort', onCancel);
      this.running.delete(key);
    }
  }

  private noteError(e: Error): void {
    if (this.connecting.note(e)) return;
    const now = Date.now();
    if (now - this.lastErrorPrinted < 10_000) return;
    this.lastErrorPrinted = now;
    this.log(`Redis: ${e.message}`);
  }
}
