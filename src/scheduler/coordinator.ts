/**
 * The coordinator: takes a sweep's lease, reclaims what a dead predecessor left running, then keeps
 * the runner's slots busy with pending tasks (most expensive first) through p-queue, writing each
 * result with its state change in one transaction. Emits a SweepEvent stream; knows nothing of UIs.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import PQueue from 'p-queue';
import { BoptError } from '../errors.js';
import type { JobProgress, TaskRunner } from '../pool/protocol.js';
import type { LoadedSweep } from '../sweep/types.js';
import type { StateCounts, SweepStore, TaskRecord } from '../storage/store.js';
import type { SweepEvent } from './events.js';

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
  /** A lease not renewed for this long is dead. Default 15 s. */
  leaseTtlMs?: number;
  /** Lease renewal period. Default 2 s. */
  heartbeatMs?: number;
  /** How often step-level progress is written to the database for `bopt watch`. Default 500 ms. */
  progressPublishMs?: number;
  /** Engine label for the header (the sweep may mix engines). */
  engineLabel?: string;
}

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
}

export class Coordinator {
  readonly holder = randomUUID();
  private readonly events = new EventEmitter();
  private readonly queue: PQueue;
  private readonly abort = new AbortController();
  private readonly live = new Map<string, LiveTask>();
  private readonly freeLanes: number[];
  private interrupted = false;
  private fatal: Error | null = null;
  private trained = 0;
  private sweepId = -1;
  private paused = false;
  private readonly retries: number;

  constructor(private readonly options: CoordinatorOptions) {
    this.retries = options.retries ?? 2;
    if (!Number.isInteger(this.retries) || this.retries < 0)
      throw new BoptError(`--retries: expected a non-negative integer, got ${options.retries}`);
    this.queue = new PQueue({ concurrency: options.runner.slots });
    this.freeLanes = Array.from({ length: options.runner.slots }, (_, i) => options.runner.slots - 1 - i);
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
    const { sweepId } = store.registerSweep(sweep, this.options.codeVersion);
    this.sweepId = sweepId;
    store.acquireLease(sweepId, sweep.name, this.holder, ttl);
    const timers: NodeJS.Timeout[] = [];
    try {
      store.reclaimOrphans(sweepId);
      if (this.options.retryFailed) store.resetFailed(sweepId);
      const before = store.counts(sweepId);
      this.emit({
        type: 'sweep-start',
        sweep: sweep.name,
        database: store.path,
        engine: this.options.engineLabel ?? [...new Set(sweep.tasks.map((t) => t.params.engine))].join('+'),
        workers: runner.slots,
        counts: pickCounts(before),
        remainingCost: before.remainingCost,
        totalCost: before.totalCost,
      });

      timers.push(
        setInterval(() => {
          if (!store.renewLease(sweepId, this.holder, ttl)) {
            this.fatal = new BoptError(`lost the lease on sweep "${sweep.name}" to another coordinator; stopping`, 3);
            this.interrupt();
          }
        }, this.options.heartbeatMs ?? 2_000),
        setInterval(() => this.publishProgress(), this.options.progressPublishMs ?? 500),
      );
      for (const t of timers) t.unref();

      for (const task of store.pendingTasks(sweepId)) this.enqueue(task);
      await this.queue.onIdle();
    } finally {
      for (const t of timers) clearInterval(t);
      // Whatever is still marked running under this holder (an interrupt) goes back to pending.
      store.releaseAll(this.holder);
      store.releaseLease(sweepId, this.holder);
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

  private enqueue(task: TaskRecord): void {
    // Retries go to the front of what is left: a failing task should not wait behind the whole grid.
    void this.queue.add(() => this.execute(task), { priority: task.attempts > 0 ? 1 : 0 });
  }

  private async execute(task: TaskRecord): Promise<void> {
    if (this.interrupted) return;
    const { store, runner } = this.options;
    const claim = store.claimTask(task.key, this.holder);
    if (!claim) return; // done meanwhile by another sweep's coordinator sharing this task
    const lane = this.freeLanes.pop() ?? 0;
    const liveTask: LiveTask = { key: task.key, lane, progress: null };
    this.live.set(task.key, liveTask);
    this.emit({
      type: 'task-start',
      key: task.key,
      params: task.params,
      lane,
      attempt: claim.attempts + 1,
      cost: task.cost,
    });
    try {
      const outcome = await runner.run(
        { key: task.key, params: task.params, attempt: claim.attempts },
        {
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
      store.completeTask(task.key, outcome.result, outcome.worker);
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
      if (this.interrupted) {
        store.releaseTask(task.key, this.holder);
      } else {
        const message = oneLine(e);
        const attempts = claim.attempts + 1;
        const final = attempts > this.retries;
        store.recordFailure(task.key, this.holder, `lane-${lane}`, message, final);
        if (final) {
          this.emit({
            type: 'task-failed',
            key: task.key,
            params: task.params,
            lane,
            attempts,
            error: message,
          });
        } else {
          this.emit({ type: 'task-retry', key: task.key, lane, attempt: attempts, error: message });
          this.enqueue({ ...task, attempts });
        }
      }
    } finally {
      this.live.delete(task.key);
      this.freeLanes.push(lane);
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
    this.options.store.publishProgress(this.holder, rows);
  }
}

function pickCounts(c: StateCounts): StateCounts {
  return { pending: c.pending, running: c.running, done: c.done, failed: c.failed };
}

/** An error as one line: its message, without stack or line breaks. */
export function oneLine(e: unknown): string {
  const message = e instanceof Error ? e.message || e.name : String(e);
  return message.replace(/\s+/g, ' ').trim().slice(0, 500);
}
