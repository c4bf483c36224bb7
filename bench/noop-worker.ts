/**
 * A Piscina worker that trains nothing: it returns a canned result at once, so a benchmark through
 * the real pool, coordinator and SQLite measures orchestration overhead alone.
 */
import type { JobOutcome, TrainJob } from '../src/pool/protocol.js';

export default function runJob(job: TrainJob): JobOutcome {
  return {
    worker: 'noop',
    result: {
      engine: job.params.engine,
      engineVersion: 'noop',
      backend: 'noop',
      stepsDone: job.params.steps,
      trainAccuracy: 1,
      trainLoss: 0,
      testAccuracy: 1,
      testLoss: 0,
      diverged: false,
      wallMs: 0,
      curve: [],
    },
  };
}
