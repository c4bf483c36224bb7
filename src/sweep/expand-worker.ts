/**
 * The worker thread of expandInWorker (./batches.ts): builds the spec again from its text, streams
 * its tasks with streamTaskRows and posts them in batches, waiting while IN_FLIGHT batches are posted
 * and not taken. Ends with { end } or with the first error.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { packTasks, type ExpandWorkerData, type ExpandWorkerMessage } from './batches.js';
import { streamTaskRows } from './expand.js';
import { specOfSource } from './load.js';

const TAKEN = 0;
const CANCEL = 1;

function post(message: ExpandWorkerMessage): void {
  if ('batch' in message) {
    const b = message.batch;
    parentPort!.postMessage(message, [
      b.keys.buffer,
      b.params.buffer,
      b.paramsBytes.buffer,
      b.paramsChars.buffer,
      b.engineOf.buffer,
      b.costs.buffer,
    ]);
  } else parentPort!.postMessage(message);
}

function run(data: ExpandWorkerData): void {
  const control = new Int32Array(data.control);
  const tasks = streamTaskRows(specOfSource(data.source), data.options, data.checked, data.from);
  for (let posted = 0; ; posted++) {
    for (;;) {
      if (Atomics.load(control, CANCEL) !== 0) return;
      const taken = Atomics.load(control, TAKEN);
      if (posted - taken < data.inFlight) break;
      Atomics.wait(control, TAKEN, taken);
    }
    const batch = packTasks(tasks, data.batchSize);
    if (!batch) break;
    post({ batch });
  }
  post({ end: true });
}

try {
  run(workerData as ExpandWorkerData);
} catch (e) {
  const error = e instanceof Error ? e : new Error(String(e));
  post({ error: { name: error.name, message: error.message, ...(error.stack ? { stack: error.stack } : {}) } });
}
