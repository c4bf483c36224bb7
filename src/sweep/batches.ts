/**
 * A grid's expansion in a worker thread. Each task costs its point, canonical JSON and SHA-256 key
 * (a few microseconds); storing it costs about as much again on the thread that owns the database
 * connection. A worker expands the grid in batches while that thread stages the batch before, so
 * the two run on two cores. The batches are compact (TaskBatch: buffers and typed arrays that are
 * transferred, not an object per task) and at most IN_FLIGHT of them wait for the consumer, so memory
 * stays bounded whatever the grid's size. The worker builds the spec again from its text (a spec
 * holds compiled expressions, which cannot be sent) and streams it with streamTaskRows, the same
 * tasks in the same order as streamTasks. An error of a point (or any other) ends the worker and is
 * thrown by next() after the batches before it, with the same class and message.
 */
import { Worker } from 'node:worker_threads';
import { InputError } from '../errors.js';
import type { EngineName } from '../engines/config.js';
import type { ExpandOptions, TaskRow } from './expand.js';
import type { GridSource, TaskBatch, TaskBatches, WorkerBatchOptions } from './types.js';

/** Tasks per batch: large enough that messages cost nothing, small enough that the first is soon ready. */
export const TASK_BATCH = 10_000;
/** Batches posted by the worker and not yet taken by the consumer, at most. */
const IN_FLIGHT = 2;
/** Characters of a task key (SHA-256 in lowercase hex). */
export const KEY_CHARS = 64;
/** Slots of the control array shared with the worker. */
const TAKEN = 0;
const CANCEL = 1;

/** What the worker is started with (workerData). */
export interface ExpandWorkerData {
  source: GridSource;
  options: ExpandOptions;
  /** checkPoints has passed this spec with these options (see streamTasks). */
  checked: boolean;
  batchSize: number;
  from: number;
  inFlight: number;
  /** Int32Array [batches taken by the consumer, cancelled]. */
  control: SharedArrayBuffer;
}

/** What the worker posts: a batch, the end, or the error that ended it. */
export type ExpandWorkerMessage =
  { batch: TaskBatch } | { end: true } | { error: { name: string; message: string; stack?: string } };

/** Bytes reserved per task's JSON at first (the buffer grows when a batch needs more). */
const PARAMS_BYTES = 256;

/**
 * Up to `max` tasks of `tasks` as one batch; null when the iterator has none left. Each task's
 * strings are written into the batch's buffers at once, so that they die young: a batch of 10,000
 * task objects and strings held until the batch is complete made the garbage collector copy them
 * and cost more than the expansion itself.
 */
export function packTasks(tasks: Iterator<TaskRow>, max: number): TaskBatch | null {
  const keys = Buffer.allocUnsafeSlow(max * KEY_CHARS);
  let params = Buffer.allocUnsafeSlow(max * PARAMS_BYTES);
  const paramsBytes = new Uint32Array(max);
  const paramsChars = new Uint32Array(max);
  const engineOf = new Uint8Array(max);
  const costs = new Float64Array(max);
  const engines: EngineName[] = [];
  let bytes = 0;
  let chars = 0;
  let count = 0;
  for (; count < max; count++) {
    const next = tasks.next();
    if (next.done) break;
    const t = next.value;
    if (t.key.length !== KEY_CHARS || keys.write(t.key, count * KEY_CHARS, 'latin1') !== KEY_CHARS)
      throw new Error(`internal error: a task key of ${t.key.length} characters`);
    const json = t.paramsJson;
    const most = 3 * json.length; // UTF-8 bytes of a string, at most
    if (bytes + most > params.length) {
      const larger = Buffer.allocUnsafeSlow(Math.max(2 * params.length, bytes + most));
      params.copy(larger, 0, 0, bytes);
      params = larger;
    }
    bytes += params.write(json, bytes, 'utf8');
    chars += json.length;
    paramsBytes[count] = bytes;
    paramsChars[count] = chars;
    let engine = engines.indexOf(t.engine);
    if (engine < 0) engine = engines.push(t.engine) - 1;
    if (engine > 255) throw new Error('internal error: more than 256 engines in one batch');
    engineOf[count] = engine;
    costs[count] = t.cost;
  }
  if (count === 0) return null;
  return {
    count,
    keys: new Uint8Array(keys.buffer as ArrayBuffer, keys.byteOffset, count * KEY_CHARS),
    params: new Uint8Array(params.buffer as ArrayBuffer, params.byteOffset, bytes),
    paramsBytes: paramsBytes.subarray(0, count),
    paramsChars: paramsChars.subarray(0, count),
    engines,
    engineOf: engineOf.subarray(0, count),
    costs: costs.subarray(0, count),
  };
}

/**
 * The texts of tasks from..to-1 of a batch: their keys (64 characters each) and their JSONs, one
 * after another; task i's JSON is params.slice(paramsChars[i - 1] - charsBefore, paramsChars[i] -
 * charsBefore). Decoded a run of tasks at a time, not the whole batch: strings of a few hundred tasks
 * are young garbage, cheap to collect, where a batch's would be large objects that stay until a full
 * collection (and raised the peak memory).
 */
export function batchTexts(
  batch: TaskBatch,
  from: number,
  to: number,
): { keys: string; params: string; charsBefore: number } {
  const text = (u: Uint8Array, start: number, end: number, encoding: 'latin1' | 'utf8'): string =>
    Buffer.from(u.buffer, u.byteOffset, u.byteLength).toString(encoding, start, end);
  const bytesBefore = from === 0 ? 0 : batch.paramsBytes[from - 1]!;
  return {
    keys: text(batch.keys, from * KEY_CHARS, to * KEY_CHARS, 'latin1'),
    params: text(batch.params, bytesBefore, batch.paramsBytes[to - 1]!, 'utf8'),
    charsBefore: from === 0 ? 0 : batch.paramsChars[from - 1]!,
  };
}

/** The error the worker reported, as the class it was thrown as where that is one callers tell apart. */
function rebuildError(e: { name: string; message: string; stack?: string }): Error {
  const error = e.name === 'InputError' ? new InputError(e.message) : new Error(e.message);
  if (e.stack !== undefined) error.stack = e.stack;
  return error;
}

/**
 * The tasks of streamTaskRows(specOfSource(source), options, checked, from) (those of streamTasks
 * from point `from`), in batches expanded by a worker thread. The worker starts now; close() ends it
 * (call it in a finally: a worker left waiting would not keep the process alive, but it holds its
 * memory).
 */
export function expandInWorker(
  source: GridSource,
  options: ExpandOptions,
  settings: WorkerBatchOptions & { checked: boolean },
): TaskBatches {
  return new WorkerBatches(source, options, settings.checked, settings.batchSize ?? TASK_BATCH, settings.from ?? 0);
}

class WorkerBatches implements TaskBatches {
  private readonly worker: Worker;
  private readonly control = new Int32Array(new SharedArrayBuffer(2 * Int32Array.BYTES_PER_ELEMENT));
  /** Messages received and not yet handed out, in order. */
  private readonly received: ExpandWorkerMessage[] = [];
  private waiter: { resolve: (b: TaskBatch | null) => void; reject: (e: Error) => void } | undefined;
  /** The worker's last word (end or error), once received or once it exited without one. */
  private last: ExpandWorkerMessage | undefined;
  private closed = false;

  constructor(source: GridSource, options: ExpandOptions, checked: boolean, batchSize: number, from: number) {
    const workerData: ExpandWorkerData = {
      source,
      options,
      checked,
      batchSize,
      from,
      inFlight: IN_FLIGHT,
      control: this.control.buffer as SharedArrayBuffer,
    };
    // The worker module beside this file: compiled (.js), or under tsx (.ts; a worker does not inherit
    // tsx's loader, so it registers it before importing the module).
    const self = import.meta.url;
    this.worker = self.endsWith('.ts')
      ? new Worker(
          `import('tsx/esm/api').then((tsx) => (tsx.register(), import(${JSON.stringify(new URL('./expand-worker.ts', self).href)})))`,
          { eval: true, workerData },
        )
      : new Worker(new URL('./expand-worker.js', self), { workerData });
    // Held only while next() waits on it: a worker nobody waits for never keeps the process alive.
    this.worker.unref();
    this.worker.on('message', (m: ExpandWorkerMessage) => this.receive(m));
    this.worker.on('error', (e: Error) =>
      this.receive({ error: { name: e.name, message: e.message, stack: e.stack } }),
    );
    this.worker.on('exit', (code) => {
      if (this.last === undefined && !this.closed)
        this.receive({
          error: { name: 'Error', message: `internal error: the expansion worker exited with code ${code} early` },
        });
    });
  }

  private receive(m: ExpandWorkerMessage): void {
    if (this.last !== undefined) return; // nothing counts after the end or the first error
    if (!('batch' in m)) this.last = m;
    this.received.push(m);
    if (this.waiter) {
      const waiter = this.waiter;
      this.waiter = undefined;
      this.worker.unref();
      this.handOut(waiter.resolve, waiter.reject);
    }
  }

  private handOut(resolve: (b: TaskBatch | null) => void, reject: (e: Error) => void): void {
    const m = this.received[0]!;
    if ('batch' in m) {
      this.received.shift();
      // Taken: the worker may build the next one while the caller stores this one.
      Atomics.add(this.control, TAKEN, 1);
      Atomics.notify(this.control, TAKEN);
      resolve(m.batch);
    } else if ('end' in m) resolve(null);
    else reject(rebuildError(m.error));
  }

  next(): Promise<TaskBatch | null> {
    if (this.closed) return Promise.reject(new Error('internal error: next() after close()'));
    if (this.waiter) return Promise.reject(new Error('internal error: next() while a next() is pending'));
    return new Promise((resolve, reject) => {
      if (this.received.length > 0) this.handOut(resolve, reject);
      else {
        this.waiter = { resolve, reject };
        this.worker.ref();
      }
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    Atomics.store(this.control, CANCEL, 1);
    Atomics.notify(this.control, TAKEN);
    this.received.length = 0;
    await this.worker.terminate();
  }
}
