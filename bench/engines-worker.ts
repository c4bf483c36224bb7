/**
 * Worker of bench/engines.ts's two-workers measurement: prepares one native MLP task (784-800-10,
 * N = 1000, eps 0.01, m 0.9), says 'ready', trains `steps` steps of `batch` when told 'go', says 'done'.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { parseTrainConfig } from '../src/engines/config.js';
import { prepareTraining } from '../src/engines/driver.js';
import { loadNativeEngine, nativeUnavailableReason } from '../src/engines/native/index.js';

const { steps, batch } = workerData as { steps: number; batch: number };
const port = parentPort;
if (!port) throw new Error('engines-worker must run in a worker thread');
const factory = loadNativeEngine();
if (!factory) {
  port.postMessage(`native engine unavailable: ${nativeUnavailableReason()}`);
} else {
  const prep = prepareTraining(
    parseTrainConfig({
      engine: 'native',
      model: 'mlp',
      dataset: 'mnist',
      n_train: 1000,
      n_test: 10,
      batch_size: batch,
      lr: 0.01,
      momentum: 0.9,
      steps,
      seed: 1,
    }),
  );
  const kernel = factory.createKernel(prep.shape, prep.train, { lr: 0.01, momentum: 0.9, l2: 0 });
  kernel.setParameters(prep.initialParams);
  const it = prep.batchSequence();
  const batches = Array.from({ length: steps }, () => it.next().value);
  port.once('message', () => {
    for (const b of batches) kernel.step(b);
    kernel.dispose?.();
    port.postMessage('done');
  });
  port.postMessage('ready');
}
