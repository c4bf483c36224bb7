/**
 * The coordinator: takes a sweep's lease, reclaims what a dead predecessor left running, then keeps
 * the runner's slots busy with pending tasks (most expensive first) through p-queue, writing each
 * result with its state change in one transaction. Emits a SweepEvent stream; knows nothing of UIs.
 */
import { randomUUID } from 'node:crypto';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { EventEmitter } from 'node:events';
import { setImmediate as yieldToEvents, setTimeout as sleep } from 'node:timers/promises';
import PQueue from 'p-queue';
import { LockedError, OptionError, StoreUnwritableError, oneLine } from '../errors.js';
import { canUseThreads } from '../engines/threads.js';
import type { JobOutcome, JobProgress, TaskRunner } from '../pool/protocol.js';
import { ENGINE_VERSIONS } from '../engines/versions.js';
import { sweepEngines } from '../sweep/grid.js';
import { canonicalJson, sha256Hex } from '../sweep/identity.js';
import type { ExpandedTask, LoadedSweep } from '../sweep/types.js';
import { describeProblem, isTransientWriteError } from '../storage/problems.js';
import type { DispatchCursor, StateCounts, SweepStore, TaskRecord } from '../storage/store.js';
import type { SearchProgress, SweepEvent } from './events.js';
import { stageSweep } from './stage.js';

export interface CoordinatorOptions {
  store: SweepStore;
  sweep: LoadedSweep;
  runner: TaskRunner;
  /** bopt version recorded with the sweep. */
  codeVersion: string;
  /** Retries after a failed attempt before a task is marked failed. Default 2. */
  retries?: number;
  /** Put failed tasks back to pending before starting. */
  retryFailed?: boolean;
  /** A lease not renewed for this long is dead. Default 15 s; the fault tests let one expire quickly. */
  leaseTtlMs?: number;
  /**
   * How long a database write that fails on a lock held elsewhere or a full disk is retried (with
   * backoff) before the run stops. Default 120 s; the fault tests exhaust a short one.
   */
  storeRetryMs?: number;
  /**
   * Pending tasks read from the database at a time, in dispatch order (default 256): the coordinator
   * holds at most this many plus two per slot, however large the sweep.
   */
  pendingWindow?: number;
  /** Tasks registered per write transaction (default REGISTER_BATCH): a larger grid is stored in several. */
  registerBatch?: number;
  /** Grids of at least this many points are expanded in a worker thread while stored (default EXPAND_WORKER_MIN). */
  expandWorkerMin?: number;
  /** When the sweep is one round of an adaptive search: where the search stands (for the UI). */
  search?: SearchProgress;
  /**
   * Cores the machine left idle, on average, since the previous call (made at every heartbeat): idle
   * slots are lent as threads only up to that many, so nothing is lent into a machine other programs
   * keep busy (a thread that waits for a core stalls its task at every barrier). Default: measured from
   * the kernel's CPU times.
   */
  idleCores?: () => number;
}

/**
 * What identifies a grid's stored tasks: the spec, the number of points, the engines' version tags,
 * the code that expanded it and the key of its first point (which changes with any default that
 * enters the keys). Null for a sweep given as a list of tasks (a search round): always registered.
 */
function gridFingerprint(sweep: LoadedSweep, codeVersion: string): string | null {
  if (!sweep.stream || sweep.size === undefined) return null;
  const first = sweep.stream()[Symbol.iterator]().next();
  const firstKey = first.done ? '' : first.value.key;
  return sha256Hex(canonicalJson([sweep.specHash, sweep.size, ENGINE_VERSIONS, codeVersion, firstKey]));
}

/** Lease renewal period: several renewals fit in the default lease TTL. */
const HEARTBEAT_MS = 2_000;
/** How often step-level progress is written to the database for `bopt watch`. */
const PROGRESS_PUBLISH_MS = 500;
/**
 * Tasks a registration stages between two lease renewals, and stores per write transaction (whole key
 * ranges up to this many). Every transaction of a grid's insert rewrites the pages of the dispatch
 * index it touches, which are most of them (that index is by cost and grid position, the insert by
 * key), and ends in a WAL checkpoint with its fsyncs: on a 1,000,000-task grid 400,000 (3
 * transactions instead of 16) wrote 1.3 instead of 1.5 GB while storing and took the store from about
 * 15.5 to 12-14 s. A range of a larger grid is one transaction of its own whatever this is (1/16 of
 * the grid).
 */
export const REGISTER_BATCH = 400_000;

export interface RunSummary {
  sweep: string;
  counts: StateCounts;
  total: number;
  /** Tasks trained by this run (not counting ones already done before). */
  trained: number;
  failed: number;
  interrupted: boolean;
  wallMs: number;
}

interface LiveTask {
  key: string;
  lane: number;
  progress: JobProgress | null;
  cost: number;
  /** Slots it uses: its own plus those lent to it while others would idle. */
  threads: number;
  /** Shared with its training thread, which reads element 0 between steps; null: one thread only. */
  threadCell: Int32Array | null;
}

export class Coordinator {
  readonly holder = randomUUID();
  private readonly events = new EventEmitter();
  private readonly queue: PQueue;
  private readonly abort = new AbortController();
  private readonly live = new Map<string, LiveTask>();
  private readonly freeLanes: number[];
  /** Slots lent to running tasks as extra threads: p-queue starts no job on them until taken back. */
  private lent = 0;
  private readonly sampleIdleCores: () => number;
  /** The machine's idle cores at the last heartbeat: at most this many more slots are lent. */
  private idleCores: number;
  private interrupted = false;
  private fatal: Error | null = null;
  private trained = 0;
  private paused = false;
  /** Set once the queue has drained: tasks can no longer join. */
  private finished = false;
  private sweepId: number | undefined;
  private readonly retries: number;
  /** Pending tasks read from the database and not yet handed to the queue, next last. */
  private window: TaskRecord[] = [];
  private cursor: DispatchCursor | null = null;
  private readAll = false;
  private readonly windowSize: number;

  constructor(private readonly options: CoordinatorOptions) {
    this.retries = options.retries ?? 2;
    if (!Number.isInteger(this.retries) || this.retries < 0)
      throw new OptionError('retries', `expected a non-negative integer, got ${options.retries}`);
    this.windowSize = options.pendingWindow ?? 256;
    if (!Number.isInteger(this.windowSize) || this.windowSize < 1)
      throw new RangeError(`pendingWindow: expected a positive integer, got ${options.pendingWindow}`);
    this.sampleIdleCores = options.idleCores ?? idleCoreSampler();
    this.idleCores = options.idleCores ? options.idleCores() : Math.max(0, availableParallelism() - loadavg()[0]);
    this.queue = new PQueue({ concurrency: options.runner.slots });
    this.freeLanes = Array.from({ length: options.runner.slots }, (_, i) => options.runner.slots - 1 - i);
    if (options.runner.sharesCores) {
      // After a job ends ('next', the next job already started) or one is queued ('add', before it
      // starts): lend what would idle, take back what a queued job needs.
      this.queue.on('next', () => this.balanceThreads());
      this.queue.on('add', () => this.balanceThreads());
    }
  }

  /** Subscribe to every event; returns the unsubscribe function. */
  onEvent(listener: (e: SweepEvent) => void): () => void {
    this.events.on('event', listener);
    return () => this.events.off('event', listener);
  }

  private emit(e: SweepEvent): void {
    this.events.emit('event', e);
  }

  /** Stop dispatching, abort running tasks and return them to pending. Safe to call more than once. */
  interrupt(): void {
    if (this.interrupted) return;
    this.interrupted = true;
    this.queue.clear();
    this.window = [];
    this.abort.abort(new Error('interrupted'));
  }

  /** Pause or resume dispatch; running tasks continue. */
  setPaused(paused: boolean): void {
    if (paused === this.paused || this.interrupted) return;
    this.paused = paused;
    if (paused) this.queue.pause();
    else this.queue.start();
    this.emit({ type: 'paused', paused });
  }

  get isPaused(): boolean {
    return this.paused;
  }

  async run(): Promise<RunSummary> {
    const { store, sweep, runner } = this.options;
    const started = Date.now();
    const ttl = this.options.leaseTtlMs ?? 15_000;
    const { sweepId } = store.registerAndLease(sweep, this.options.codeVersion, this.holder, ttl);
    this.sweepId = sweepId;
    const timers: NodeJS.Timeout[] = [];
    try {
      await this.registerTasks(sweepId, ttl);
      store.reclaimOrphans(sweepId);
      if (this.options.retryFailed) store.resetFailed(sweepId);
      const before = store.counts(sweepId);
      this.emit({
        type: 'sweep-start',
        sweep: sweep.name,
        database: store.path,
        engine: sweepEngines(sweep).join('+'),
        workers: runner.workers ?? runner.slots,
        counts: pickCounts(before),
        remainingCost: before.remainingCost,
        totalCost: before.totalCost,
        ...(this.options.search ? { search: this.options.search } : {}),
      });

      timers.push(
        setInterval(() => {
          let renewed: boolean;
          try {
            renewed = store.renewLease(sweepId, this.holder, ttl);
          } catch (e) {
            if (isTransientWriteError(e)) return; // the next heartbeat tries again
            throw e;
          }
          if (!renewed) {
            this.fatal = new LockedError(`lost the lease on sweep "${sweep.name}" to another coordinator; stopping`);
            this.interrupt();
          }
        }, HEARTBEAT_MS),
        setInterval(() => this.publishProgress(), PROGRESS_PUBLISH_MS),
      );
      if (runner.sharesCores)
        timers.push(
          setInterval(() => {
            this.idleCores = this.sampleIdleCores();
            this.balanceThreads();
          }, HEARTBEAT_MS),
        );
      for (const t of timers) t.unref();

      this.refill();
      await this.queue.onIdle();
      this.finished = true;
    } finally {
      for (const t of timers) clearInterval(t);
      // Whatever is still marked running under this holder (an interrupt) goes back to pending. When
      // the database is unwritable that fails too; the next run reclaims them (this lease is dead).
      try {
        store.releaseAll(this.holder);
        store.releaseLease(sweepId, this.holder);
      } catch (e) {
        // eslint-disable-next-line no-unsafe-finally -- any other release failure is the error to report
        if (!isTransientWriteError(e) || !this.fatal) throw e;
      }
    }
    const after = store.counts(sweepId);
    const counts = pickCounts(after);
    const wallMs = Date.now() - started;
    this.emit({ type: 'sweep-end', counts, reason: this.interrupted ? 'interrupted' : 'complete', wallMs });
    if (this.fatal) throw this.fatal;
    return {
      sweep: sweep.name,
      counts,
      total: after.total,
      trained: this.trained,
      failed: counts.failed,
      interrupted: this.interrupted,
      wallMs,
    };
  }

  /**
   * Store the sweep's tasks, streamed from its grid into a staging table of this connection and then
   * stored in write transactions of whole key ranges of at most about `registerBatch` tasks; between
   * steps the lease is renewed and signals are handled (an interrupt stops here: registering is
   * idempotent, so the next run completes it). Grids up to one batch are stored all or nothing.
   */
  private async registerTasks(sweepId: number, ttlMs: number): Promise<void> {
    const { store, sweep } = this.options;
    const batch = this.options.registerBatch ?? REGISTER_BATCH;
    const fingerprint = gridFingerprint(sweep, this.options.codeVersion);
    if (fingerprint !== null && store.registeredGrid(sweepId) === fingerprint) return; // stored already
    // Cleared first: a registration cut short must not leave the marker of an earlier grid.
    if (store.registeredGrid(sweepId) !== null) store.markRegistered(sweepId, null);
    const registration = store.beginRegistration(sweepId);
    const between = async (): Promise<boolean> => {
      if (!store.renewLease(sweepId, this.holder, ttlMs))
        throw new LockedError(`lost the lease on sweep "${sweep.name}" to another coordinator; stopping`);
      await yieldToEvents();
      return !this.interrupted;
    };
    try {
      const stopped = (): boolean => this.interrupted;
      const staged = await stageSweep(registration, sweep, {
        batch,
        between,
        stopped,
        ...(this.options.expandWorkerMin !== undefined ? { workerMin: this.options.expandWorkerMin } : {}),
      });
      if (!staged) return;
      for (;;) {
        if (registration.storeNext(batch, () => store.markRegistered(sweepId, fingerprint)).done) return;
        if (!(await between())) return;
      }
    } finally {
      registration.discard();
    }
  }

  /**
   * Keep the queue's waiting list at one task per slot, reading pending tasks page by page in
   * dispatch order: enough that a freed slot never waits on the database, and nothing proportional
   * to the sweep in memory.
   */
  private refill(): void {
    try {
      while (!this.interrupted && this.queue.size < this.options.runner.slots) {
        if (this.window.length === 0) {
          if (this.readAll || this.sweepId === undefined) return;
          const page = this.options.store.pendingPage(this.sweepId, this.cursor, this.windowSize);
          this.cursor = page.next;
          this.readAll = page.tasks.length < this.windowSize;
          this.window = page.tasks.reverse();
          if (this.window.length === 0) return;
        }
        this.enqueue(this.window.pop()!);
      }
    } catch (e) {
      // The database could not be read: stop as for an unwritable one (what ran is recorded).
      this.fatal ??= e instanceof Error ? e : new Error(String(e));
      this.interrupt();
    }
  }

  /**
   * Add tasks to the running sweep: stored as members, the pending ones queued behind the rest. An
   * adaptive search calls it when a group's round is complete, so that group's next round starts
   * while other groups are still training. Ignored once the run is stopping or over.
   */
  extend(tasks: readonly ExpandedTask[], search?: SearchProgress): void {
    if (this.sweepId === undefined || this.interrupted || this.finished || tasks.length === 0) return;
    const sweepId = this.sweepId;
    // Synchronous on purpose: called from a task-done listener, it queues before the queue can drain.
    const pending = this.options.store.addTasks(sweepId, tasks);
    this.emit({
      type: 'tasks-added',
      tasks: pending.length,
      cost: pending.reduce((a, t) => a + t.cost, 0),
      ...(search ? { search } : {}),
    });
    for (const task of pending) this.enqueue(task);
  }

  private enqueue(task: TaskRecord): void {
    // Retries go to the front of what is left: a failing task should not wait behind the whole grid.
    void this.queue.add(() => this.execute(task), { priority: task.attempts > 0 ? 1 : 0 });
  }

  /**
   * A database write that must not be lost: while it fails on a lock held by another connection or a
   * full disk, wait (backoff up to 5 s) and retry, telling the user what blocks it. Once `storeRetryMs`
   * is spent the run stops with one line; the work it could not record returns to pending on resume.
   */
  private async durableWrite<T>(write: () => T): Promise<T> {
    const budget = this.options.storeRetryMs ?? 120_000;
    const started = Date.now();
    let lastNotice = -Infinity;
    for (let attempt = 0; ; attempt++) {
      if (this.fatal) throw this.fatal;
      try {
        return write();
      } catch (e) {
        if (!isTransientWriteError(e)) throw e;
        const waitedMs = Date.now() - started;
        const problem = `${this.options.store.path} is ${describeProblem(e)}`;
        if (waitedMs >= budget) {
          this.fatal ??= new StoreUnwritableError(
            `database ${problem}, still after ${Math.round(waitedMs / 1000)}s; stopping`,
            this.options.sweep.name,
          );
          this.interrupt();
          throw this.fatal;
        }
        const retryInMs = Math.min(5_000, 50 * 2 ** attempt, Math.max(1, budget - waitedMs));
        if (Date.now() - lastNotice >= 10_000) {
          lastNotice = Date.now();
          this.emit({ type: 'store-blocked', problem, waitedMs, retryInMs });
        }
        await sleep(retryInMs);
      }
    }
  }

  private async execute(task: TaskRecord): Promise<void> {
    if (this.interrupted) return;
    const { store, runner } = this.options;
    let claim: { attempts: number } | null;
    try {
      claim = await this.durableWrite(() => store.claimTask(task.key, this.holder));
    } catch (e) {
      if (e === this.fatal) return;
      throw e;
    }
    if (!claim) {
      this.refill();
      return; // done meanwhile by another sweep's coordinator sharing this task
    }
    const lane = this.freeLanes.pop() ?? 0;
    const threadCell =
      runner.sharesCores && canUseThreads(task.params) ? new Int32Array(new SharedArrayBuffer(4)) : null;
    if (threadCell) Atomics.store(threadCell, 0, 1);
    const liveTask: LiveTask = { key: task.key, lane, progress: null, cost: task.cost, threads: 1, threadCell };
    this.live.set(task.key, liveTask);
    this.emit({
      type: 'task-start',
      key: task.key,
      params: task.params,
      lane,
      attempt: claim.attempts + 1,
      cost: task.cost,
    });
    // A job that starts alone (the last of a sweep, a search round of one task) gets the idle cores now.
    if (threadCell) this.balanceThreads();
    try {
      let outcome: JobOutcome;
      try {
        outcome = await runner.run(
          { key: task.key, params: task.params, attempt: claim.attempts },
          {
            ...(threadCell ? { threads: threadCell } : {}),
            signal: this.abort.signal,
            onProgress: (p) => {
              liveTask.progress = p;
              if (p.step > 0)
                this.emit({
                  type: 'task-progress',
                  key: p.key,
                  lane,
                  step: p.step,
                  totalSteps: p.totalSteps,
                  loss: p.loss,
                });
            },
          },
        );
      } catch (e) {
        await this.settleFailure(task, claim.attempts, lane, e);
        return;
      }
      // A finished result is never turned into a failed attempt by a busy database: it is retried.
      await this.durableWrite(() => store.completeTask(task.key, outcome.result, outcome.worker));
      this.trained++;
      const r = outcome.result;
      this.emit({
        type: 'task-done',
        key: task.key,
        params: task.params,
        lane,
        cost: task.cost,
        testAccuracy: r.testAccuracy,
        trainAccuracy: r.trainAccuracy,
        diverged: r.diverged,
        wallMs: r.wallMs,
      });
    } catch (e) {
      // The database stayed unwritable: the run stops with that one error (see durableWrite).
      if (e !== this.fatal) throw e;
    } finally {
      this.live.delete(task.key);
      this.returnThreads(liveTask, liveTask.threads - 1);
      this.freeLanes.push(lane);
      this.refill();
    }
  }

  /**
   * Slots that would idle (no job waiting for them) are lent to running jobs that can use more threads,
   * the one with the most work left first; slots a waiting job needs are taken back. The numbers of a
   * task do not depend on its threads, so this changes only when results arrive, never what they are.
   */
  private balanceThreads(): void {
    if (this.interrupted) return;
    const slots = this.options.runner.slots;
    let spare = slots - this.lent - this.queue.pending - this.queue.size;
    if (spare < 0) {
      const lenders = [...this.live.values()].filter((t) => t.threads > 1).sort((a, b) => b.threads - a.threads);
      for (const t of lenders) {
        const back = Math.min(-spare, t.threads - 1);
        this.returnThreads(t, back);
        spare += back;
        if (spare >= 0) break;
      }
      return;
    }
    // Lent threads keep their cores busy: only cores idle beyond them can be lent more.
    spare = Math.min(spare, Math.floor(this.idleCores + 0.5));
    if (spare <= 0) return;
    const takers = [...this.live.values()]
      .filter((t) => t.threadCell !== null)
      .sort((a, b) => remainingCost(b) - remainingCost(a));
    if (takers.length === 0) return;
    const grant = new Map<LiveTask, number>();
    for (let i = 0; spare > 0; i++) {
      const t = takers[i % takers.length];
      if (t.threads + (grant.get(t) ?? 0) >= slots) {
        if (takers.every((u) => u.threads + (grant.get(u) ?? 0) >= slots)) break;
        continue;
      }
      grant.set(t, (grant.get(t) ?? 0) + 1);
      spare--;
    }
    for (const [t, extra] of grant) this.setThreads(t, t.threads + extra, extra);
  }

  /** Give `count` of a task's lent slots back to dispatch. */
  private returnThreads(t: LiveTask, count: number): void {
    if (count > 0) this.setThreads(t, t.threads - count, -count);
  }

  private setThreads(t: LiveTask, threads: number, lentChange: number): void {
    t.threads = threads;
    this.lent += lentChange;
    if (t.threadCell) Atomics.store(t.threadCell, 0, threads);
    if (this.live.has(t.key)) this.emit({ type: 'task-threads', key: t.key, lane: t.lane, threads });
    // Setting the concurrency starts a waiting job at once when slots came back.
    this.queue.concurrency = this.options.runner.slots - this.lent;
  }

  /** The runner threw: interrupted (back to pending), a retry, or failed for good. */
  private async settleFailure(task: TaskRecord, attemptsBefore: number, lane: number, e: unknown): Promise<void> {
    const { store } = this.options;
    if (this.interrupted) {
      await this.durableWrite(() => store.releaseTask(task.key, this.holder));
      return;
    }
    const message = oneLine(e);
    const attempts = attemptsBefore + 1;
    const final = attempts > this.retries;
    await this.durableWrite(() => store.recordFailure(task.key, this.holder, `lane-${lane}`, message, final));
    if (final) {
      this.emit({ type: 'task-failed', key: task.key, params: task.params, lane, attempts, error: message });
    } else {
      this.emit({ type: 'task-retry', key: task.key, lane, attempt: attempts, error: message });
      this.enqueue({ ...task, attempts });
    }
  }

  private publishProgress(): void {
    const rows = [];
    for (const t of this.live.values()) {
      if (t.progress)
        rows.push({
          key: t.key,
          lane: t.lane,
          step: t.progress.step,
          totalSteps: t.progress.totalSteps,
          loss: t.progress.loss,
        });
    }
    try {
      this.options.store.publishProgress(this.holder, rows);
    } catch (e) {
      if (!isTransientWriteError(e)) throw e; // progress for `bopt watch` only: the next tick publishes again
    }
  }
}

/** Idle cores of the machine, on average, between one call and the next (from the kernel's CPU times). */
function idleCoreSampler(): () => number {
  const idleAndTotal = (): [number, number] => {
    let idle = 0;
    let total = 0;
    for (const c of cpus()) {
      idle += c.times.idle;
      total += c.times.idle + c.times.user + c.times.nice + c.times.sys + c.times.irq;
    }
    return [idle, total];
  };
  let [idle0, total0] = idleAndTotal();
  return () => {
    const [idle, total] = idleAndTotal();
    const cores = cpus().length;
    const share = total > total0 ? (idle - idle0) / (total - total0) : 0;
    [idle0, total0] = [idle, total];
    return share * cores;
  };
}

/** A running task's cost still to train, by its last progress report. */
function remainingCost(t: LiveTask): number {
  const p = t.progress;
  return p && p.totalSteps > 0 ? t.cost * Math.max(0, 1 - p.step / p.totalSteps) : t.cost;
}

function pickCounts(c: StateCounts): StateCounts {
  return { pending: c.pending, running: c.running, done: c.done, failed: c.failed };
}
