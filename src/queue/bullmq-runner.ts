/**
 * The coordinator's TaskRunner over BullMQ: run(job) queues the task as a BullMQ job whose id is the
 * task key and resolves with the outcome a `bopt worker` somewhere returned. The coordinator keeps
 * owning claims, leases, retries and the SQLite record; Redis is only the transport.
 *
 * - A task already queued (a resumed coordinator re-adding what its dead predecessor queued) is not
 *   queued twice: BullMQ ignores a duplicate job id, and run() waits on the existing job, or takes
 *   its result at once if it completed meanwhile.
 * - A completed job stays in Redis until its result is in SQLite (`isStored`), then is removed; so a
 *   coordinator that dies loses nothing that was trained.
 * - A failed job is removed once its failure has been handed to the coordinator, which decides on
 *   the retry (BullMQ attempts: 1, so attempts are counted in one place).
 * - Abort (Ctrl-C): a job still waiting is withdrawn; one already running on a worker is left to
 *   finish, and its result is collected by the next run of the sweep.
 */
import { setMaxListeners } from 'node:events';
import { hostname } from 'node:os';
import { Queue, QueueEvents, type Job, type JobState as BullState } from 'bullmq';
import { ENGINE_VERSIONS } from '../engines/versions.js';
import type { JobOutcome, JobProgress, RunJobOptions, TaskRunner, TrainJob } from '../pool/protocol.js';
import { boptVersion as currentBoptVersion } from '../version.js';
import { OptionError } from '../errors.js';
import type { SweepStore } from '../storage/store.js';
import {
  DEFAULT_QUEUE_NAME,
  bullmqOptions,
  checkQueueName,
  parseQueueUrl,
  ConnectWatch,
  preflight,
  type QueueEndpoint,
} from './connection.js';
import { JOB_NAME, decodeOutcome, type QueueJobData } from './protocol.js';

export interface BullmqRunnerOptions {
  /** redis://[user:pass@]host:port[/db] or rediss://... */
  url: string;
  /** Queue name (workers must use the same); default "sweeps". */
  queueName?: string;
  /** Jobs kept in flight (queued or running) at once; default 64. */
  slots?: number;
  /** Sweep name, recorded in each job for people reading the queue. */
  sweep?: string;
  /** Whether the result of a task is safely stored; a completed job is removed from Redis only then. */
  isStored?: (key: string) => boolean;
  /** bopt version written into the jobs (workers refuse a different one); default this bopt's. */
  boptVersion?: string;
  /** How often in-flight jobs are re-checked in Redis, in case an event was missed; default 5 s. */
  pollMs?: number;
  /** How long to wait for Redis at start; default 10 s. */
  connectTimeoutMs?: number;
}

type JobState = BullState | 'unknown';

interface Flight {
  job: TrainJob;
  onProgress: (p: JobProgress) => void;
  resolve: (o: JobOutcome) => void;
  reject: (e: Error) => void;
  settled: boolean;
  /** False while the job is being added (the watchdog leaves it alone then). */
  submitted: boolean;
}

export const DEFAULT_QUEUE_SLOTS = 64;

export class BullmqRunner implements TaskRunner {
  readonly slots: number;
  readonly description: string;
  readonly queueName: string;
  readonly endpoint: QueueEndpoint;
  private readonly queue: Queue;
  private readonly events: QueueEvents;
  private readonly flights = new Map<string, Flight>();
  private readonly background = new Set<Promise<unknown>>();
  private readonly toForget = new Set<string>();
  private readonly raisedListeners = new WeakSet<AbortSignal>();
  private readonly boptVersion: string;
  private readonly origin = `${hostname()}:${process.pid}`;
  private readonly connecting: ConnectWatch;
  private lastErrorPrinted = 0;
  private connected = false;
  private watchdog: NodeJS.Timeout | null = null;
  private closed = false;

  /** Connect (failing with a one-line error if Redis cannot be reached) and clean up leftovers. */
  static async connect(options: BullmqRunnerOptions): Promise<BullmqRunner> {
    await preflight(parseQueueUrl(options.url), options.connectTimeoutMs ?? 10_000);
    const runner = new BullmqRunner(options);
    try {
      await runner.connecting.ready(
        Promise.all([runner.queue.waitUntilReady(), runner.events.waitUntilReady()]),
        options.connectTimeoutMs ?? 10_000,
      );
      runner.connected = true;
      await runner.dropStoredResults();
    } catch (e) {
      await runner.close().catch(() => undefined);
      throw e;
    }
    return runner;
  }

  private constructor(private readonly options: BullmqRunnerOptions) {
    this.endpoint = parseQueueUrl(options.url);
    this.connecting = new ConnectWatch(this.endpoint);
    this.queueName = checkQueueName(options.queueName ?? DEFAULT_QUEUE_NAME);
    this.slots = options.slots ?? DEFAULT_QUEUE_SLOTS;
    if (!Number.isInteger(this.slots) || this.slots < 1)
      throw new OptionError('queueSlots', `expected a positive integer, got ${this.slots}`);
    this.boptVersion = options.boptVersion ?? currentBoptVersion();
    const base = bullmqOptions(this.endpoint);
    this.queue = new Queue(this.queueName, base);
    this.events = new QueueEvents(this.queueName, base);
    const onError = (e: Error): void => this.noteError(e);
    this.queue.on('error', onError);
    this.events.on('error', onError);
    this.events.on('completed', ({ jobId, returnvalue }) => {
      const f = this.flights.get(jobId);
      if (!f) return;
      try {
        this.settle(f, decodeOutcome(returnvalue, jobId));
      } catch (e) {
        this.settle(f, e as Error);
      }
    });
    this.events.on('failed', ({ jobId, failedReason }) => {
      const f = this.flights.get(jobId);
      if (f) this.settle(f, new Error(failedReason || 'failed without a reason'));
    });
    this.events.on('progress', ({ jobId, data }) => {
      const f = this.flights.get(jobId);
      if (f && !f.settled && data && typeof data === 'object') f.onProgress(data as JobProgress);
    });
    this.description = `BullMQ queue "${this.queueName}" at ${this.endpoint.display}, ${this.slots} in flight`;
  }

  async run(job: TrainJob, options: RunJobOptions): Promise<JobOutcome> {
    const { signal } = options;
    signal.throwIfAborted();
    if (!this.raisedListeners.has(signal)) {
      // One coordinator signal is shared by every job in flight: up to `slots` abort listeners.
      setMaxListeners(this.slots + 16, signal);
      this.raisedListeners.add(signal);
    }
    if (this.closed) throw new Error('the queue runner is closed');
    if (this.flights.has(job.key)) throw new Error(`task ${job.key} is already in flight`);
    let flight!: Flight;
    const done = new Promise<JobOutcome>((resolve, reject) => {
      flight = { job, onProgress: options.onProgress, resolve, reject, settled: false, submitted: false };
    });
    done.catch(() => undefined); // handled below; never an unhandled rejection
    this.flights.set(job.key, flight);
    this.startWatchdog();
    const onAbort = (): void =>
      this.settle(flight, signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    const submitting = this.submit(flight);
    submitting.catch(() => undefined);
    try {
      const state = await Promise.race([submitting, done]);
      flight.submitted = true;
      if (typeof state === 'string') await Promise.race([this.check(flight, state), done]);
      const outcome = await done;
      this.forgetWhenStored(job.key);
      return outcome;
    } catch (e) {
      // Withdraw only once the add has landed, or it would leave a job that nobody waits for.
      if (signal.aborted)
        this.track(
          submitting.then(
            () => this.withdraw(job.key),
            () => undefined,
          ),
        );
      else this.track(this.removeFailed(job.key));
      throw e;
    } finally {
      signal.removeEventListener('abort', onAbort);
      this.flights.delete(job.key);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.forget();
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = null;
    while (this.background.size > 0) await Promise.allSettled([...this.background]);
    await Promise.allSettled([this.events.close(), this.queue.close()]);
  }

  /**
   * Add the job (BullMQ ignores the add if a job with this id exists) and return its state. A failed
   * job found there is the failure of this very attempt if it has the same attempt number and version
   * (its coordinator died before recording it), reported by check(); any other is history, already
   * counted by the coordinator: it is replaced by a fresh job.
   */
  private async submit(flight: Flight): Promise<JobState> {
    const { job } = flight;
    const data: QueueJobData = {
      format: 1,
      job,
      boptVersion: this.boptVersion,
      engineVersion: ENGINE_VERSIONS[job.params.engine],
      sweep: this.options.sweep ?? '',
      origin: this.origin,
    };
    const add = () =>
      this.queue.add(JOB_NAME, data, { jobId: job.key, attempts: 1, removeOnComplete: false, removeOnFail: false });
    await add();
    const state = await this.queue.getJobState(job.key);
    if (state !== 'failed') return state;
    const existing = (await this.queue.getJob(job.key)) as Job<QueueJobData> | undefined;
    if (existing?.data?.job?.attempt === job.attempt && existing.data.boptVersion === this.boptVersion) return state;
    await this.queue.remove(job.key);
    await add();
    return this.queue.getJobState(job.key);
  }

  /** Settle the flight from the job's state in Redis (an event may have come before we listened, or been lost). */
  private async check(flight: Flight, known?: JobState): Promise<void> {
    const key = flight.job.key;
    const state = known ?? (await this.queue.getJobState(key));
    if (flight.settled) return;
    if (state === 'completed' || state === 'failed') {
      const job = (await this.queue.getJob(key)) as Job<QueueJobData> | undefined;
      if (!job || flight.settled) return;
      if (state === 'failed') this.settle(flight, new Error(job.failedReason || 'failed without a reason'));
      else {
        try {
          this.settle(flight, decodeOutcome(job.returnvalue, key));
        } catch (e) {
          this.settle(flight, e as Error);
        }
      }
    } else if (state === 'unknown' && flight.submitted && !this.closed) {
      // Removed under us (another coordinator's Ctrl-C on a shared task, a flushed Redis): queue it again.
      flight.submitted = false;
      try {
        await this.submit(flight);
      } finally {
        flight.submitted = true;
      }
    }
  }

  private settle(flight: Flight, outcome: JobOutcome | Error): void {
    if (flight.settled) return;
    flight.settled = true;
    if (outcome instanceof Error) flight.reject(outcome);
    else flight.resolve(outcome);
  }

  private startWatchdog(): void {
    if (this.watchdog) return;
    this.watchdog = setInterval(() => {
      for (const f of this.flights.values()) {
        if (f.submitted && !f.settled) this.track(this.check(f));
      }
    }, this.options.pollMs ?? 5_000);
    this.watchdog.unref();
  }

  /**
   * The coordinator stores the outcome synchronously as soon as run() resolves; after that turn of the
   * event loop the result is in SQLite and the job can go. If it is not (the store failed), it stays,
   * and the next run collects it again.
   */
  private forgetWhenStored(key: string): void {
    this.toForget.add(key);
    setImmediate(() => this.forget());
  }

  private forget(): void {
    for (const key of this.toForget) {
      this.toForget.delete(key);
      if (this.options.isStored && !this.options.isStored(key)) continue;
      this.track(this.queue.remove(key));
    }
  }

  /** Abort: remove the job if no worker holds it (remove() leaves a locked, running job alone). */
  private async withdraw(key: string): Promise<void> {
    const state = await this.queue.getJobState(key);
    if (state === 'waiting' || state === 'prioritized' || state === 'delayed' || state === 'failed')
      await this.queue.remove(key);
  }

  private async removeFailed(key: string): Promise<void> {
    if ((await this.queue.getJobState(key)) === 'failed') await this.queue.remove(key);
  }

  /** Results of tasks already stored (a coordinator died between storing and removing): drop them. */
  private async dropStoredResults(): Promise<void> {
    const isStored = this.options.isStored;
    if (!isStored) return;
    const page = 500;
    for (let start = 0; ; start += page) {
      const jobs = await this.queue.getJobs(['completed'], start, start + page - 1, true);
      const stale = jobs.filter((j): j is Job => !!j?.id && isStored(j.id));
      await Promise.all(stale.map((j) => this.queue.remove(j.id!)));
      if (jobs.length < page) return;
      start -= stale.length;
    }
  }

  private track(p: Promise<unknown>): void {
    const q = p.catch((e: unknown) => this.noteError(e as Error)).finally(() => this.background.delete(q));
    this.background.add(q);
  }

  private noteError(e: Error): void {
    this.connecting.note(e);
    const now = Date.now();
    if (!this.connected || this.closed || now - this.lastErrorPrinted < 10_000) return;
    this.lastErrorPrinted = now;
    process.stderr.write(`bopt: queue ${this.endpoint.display}: ${e.message}\n`);
  }
}

/** `isStored` for a SweepStore: whether the task's result row exists (SQLite is the only truth). */
export function storedResultCheck(store: SweepStore): (key: string) => boolean {
  return (key) => store.hasResult(key);
}
