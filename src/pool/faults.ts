/**
 * Fault injection for tests of retries and crashed workers, read from BOPT_FAULT in the worker:
 *   {"seeds":[3],"kind":"throw"|"exit","failAttempts":1}
 * makes tasks whose seed is listed fail on their first `failAttempts` attempts, by throwing or by
 * killing their worker thread. Deterministic per attempt, so it needs no shared state.
 */
import type { TrainJob } from './protocol.js';

interface FaultSpec {
  seeds: number[];
  kind: 'throw' | 'exit';
  failAttempts: number;
}

function readFaultSpec(): FaultSpec | null {
  const raw = process.env.BOPT_FAULT;
  if (!raw) return null;
  const spec = JSON.parse(raw) as Partial<FaultSpec>;
  return { seeds: spec.seeds ?? [], kind: spec.kind ?? 'throw', failAttempts: spec.failAttempts ?? 1 };
}

const spec = readFaultSpec();

export function injectFault(job: TrainJob): void {
  if (!spec || !spec.seeds.includes(job.params.seed) || job.attempt >= spec.failAttempts) return;
  if (spec.kind === 'exit') process.exit(17); // in a worker thread this ends only the thread
  throw new Error(`injected fault (seed ${job.params.seed}, attempt ${job.attempt + 1})`);
}
