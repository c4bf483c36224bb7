/** `bopt worker --queue URL`: a worker process that trains queued jobs until a signal stops it. */
import { InputError } from '../../errors.js';
import { QueueWorker } from '../../queue/queue-worker.js';
import { onStopSignals } from '../signals.js';

export interface WorkerCommandOptions {
  queue?: string;
  queueName?: string;
  workers?: number;
  stallMs?: number;
}

/** `bopt worker --queue URL [--workers N]`: runs until SIGINT/SIGTERM. Returns the exit code. */
export async function workerCommand(options: WorkerCommandOptions): Promise<number> {
  if (!options.queue) throw new InputError('worker: --queue URL is required (redis://host:port[/db])');
  const worker = await QueueWorker.start({
    url: options.queue,
    queueName: options.queueName,
    workers: options.workers,
    stallMs: options.stallMs,
  });
  process.stderr.write(`bopt worker: ${worker.description}; waiting for jobs (Ctrl-C to stop)\n`);
  let detachSignals = (): void => {};
  await new Promise<void>((resolve) => {
    detachSignals = onStopSignals(() => {
      process.stderr.write('bopt worker: stopping; running jobs go back to the queue\n');
      void worker.stop().then(() => resolve());
    }, 'bopt worker: second interrupt, exiting now; running jobs go back to the queue when their lock expires');
  });
  detachSignals();
  const s = worker.stats;
  process.stderr.write(
    `bopt worker: stopped; trained ${s.trained}, failed ${s.failed}, refused ${s.refused}, handed back ${s.handedBack}\n`,
  );
  return 0;
}
