/**
 * Piscina worker entry: trains one task per call, synchronously, on this thread. Progress goes out on
 * a BroadcastChannel named by the pool (cheaper than a MessagePort per task).
 */
import { hostname } from 'node:os';
import { BroadcastChannel, threadId, workerData } from 'node:worker_threads';
import { train } from '../engines/driver.js';
import { loadEngine } from '../engines/registry.js';
import type { KernelFactory } from '../engines/types.js';
import type { EngineName } from '../engines/config.js';
import { injectFault } from './faults.js';
import type { PoolTask } from './piscina-runner.js';
import type { JobOutcome, JobProgress } from './protocol.js';

const { progressChannel, progressIntervalMs } = workerData as { progressChannel: string; progressIntervalMs: number };
const channel = new BroadcastChannel(progressChannel);
channel.unref();
const engines = new Map<EngineName, KernelFactory>();
const workerName = `${hostname()}:${process.pid}/thread-${threadId}`;

export default async function runJob(job: PoolTask): Promise<JobOutcome> {
  const { threads } = job;
  injectFault(job);
  let factory = engines.get(job.params.engine);
  if (!factory) {
    factory = await loadEngine(job.params.engine);
    engines.set(job.params.engine, factory);
  }
  const post = (step: number, totalSteps: number, loss: number): void => {
    const msg: JobProgress = { key: job.key, step, totalSteps, loss };
    channel.postMessage(msg);
  };
  post(0, job.params.steps, Number.NaN);
  const result = train(job.params, factory, {
    progressIntervalMs,
    onProgress: (p) => post(p.step, p.totalSteps, p.loss),
    ...(threads ? { threads: () => Atomics.load(threads, 0) } : {}),
  });
  return { result, worker: workerName };
}
