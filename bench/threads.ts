/**
 * One native MLP task on several threads against one: µs per training example at each batch size and
 * the evaluation of the 10,000 test images, thread counts timed interleaved in one process (a loaded
 * machine slows all alike), after checking that every thread count gives the same parameters and losses.
 *
 *   node dist/bench/threads.js [--threads 1,2] [--batches 32,64,128,256,1000] [--rounds 5]
 */
import { cpus, loadavg } from 'node:os';
import { batchSequence } from '../src/engines/driver.js';
import { BENCH_LR, BENCH_MOMENTUM, benchMlpTraining, bestMicrosPerExample } from './kernel-timing.js';
import { createNativeKernel, loadNativeAddon, nativeUnavailableReason } from '../src/engines/native/index.js';

const LR = BENCH_LR;
const MOMENTUM = BENCH_MOMENTUM;

function flag(name: string, fallback: string): number[] {
  const i = process.argv.indexOf(`--${name}`);
  return (i >= 0 ? (process.argv[i + 1] ?? '') : fallback).split(',').map(Number);
}

const addon = loadNativeAddon();
if (!addon) {
  console.error(`bench/threads: ${nativeUnavailableReason()}`);
  process.exit(1);
}
const threadCounts = flag('threads', '1,2');
const batches = flag('batches', '32,64,128,256,1000');
const [rounds] = flag('rounds', '5');
const prep = benchMlpTraining('native');

function kernelWith(threads: number) {
  const k = createNativeKernel(addon!, prep.shape, prep.train, { lr: LR, momentum: MOMENTUM, l2: 0 });
  k.setParameters(prep.initialParams);
  k.native.setThreads(threads);
  return k;
}

/** Best µs/example over ~20 ms windows during `ms` milliseconds. */
function time(threads: number, B: number, ms: number): number {
  return bestMicrosPerExample(kernelWith(threads), prep.train.n, B, ms);
}

function timeEval(threads: number): number {
  const k = kernelWith(threads);
  const t = performance.now();
  k.evaluate(prep.test);
  const s = (performance.now() - t) / 1000;
  k.dispose?.();
  return s;
}

// Same numbers whatever the thread count: 5 steps from the same start, then the test loss.
for (const B of batches) {
  const runs = threadCounts.map((threads) => {
    const k = kernelWith(threads);
    const it = batchSequence(2, prep.train.n, B);
    const losses: number[] = [];
    for (let i = 0; i < 5; i++) losses.push(k.step(it.next().value));
    const p = k.getParameters();
    losses.push(k.evaluate(prep.test).loss);
    k.dispose?.();
    return { p, losses };
  });
  for (const r of runs.slice(1)) {
    let differ = 0;
    for (let i = 0; i < r.p.length; i++) if (!Object.is(r.p[i], runs[0].p[i])) differ++;
    const lossesDiffer = r.losses.filter((x, i) => !Object.is(x, runs[0].losses[i])).length;
    if (differ > 0 || lossesDiffer > 0) {
      console.error(`B=${B}: ${differ} parameters and ${lossesDiffer} losses differ between thread counts`);
      process.exit(1);
    }
  }
}
console.log(`identical parameters and losses with ${threadCounts.join(', ')} threads at B = ${batches.join(', ')}`);

console.log(`CPU: ${cpus()[0]?.model ?? 'unknown'} (${cpus().length} logical cores), load ${loadavg()[0].toFixed(1)}`);
console.log(
  `native MLP 784-800-10, n_train 1000, lr ${LR}, momentum ${MOMENTUM}; best of ${rounds} interleaved rounds`,
);
console.log(`| B | ${threadCounts.map((t) => `${t} thread${t === 1 ? '' : 's'} µs/example`).join(' | ')} | speed-up |`);
console.log(`|---:|${threadCounts.map(() => '---:|').join('')}---:|`);
for (const B of batches) {
  const best = threadCounts.map(() => Infinity);
  for (let r = 0; r < rounds; r++)
    threadCounts.forEach((t, i) => {
      best[i] = Math.min(best[i], time(t, B, 300));
    });
  const speedUp = best[0] / best[best.length - 1];
  console.log(`| ${B} | ${best.map((b) => b.toFixed(2)).join(' | ')} | ${speedUp.toFixed(2)}x |`);
}
const ev = threadCounts.map(() => Infinity);
for (let r = 0; r < 3; r++)
  threadCounts.forEach((t, i) => {
    ev[i] = Math.min(ev[i], timeEval(t));
  });
console.log(
  `| evaluate 10,000 | ${ev.map((e) => `${e.toFixed(3)} s`).join(' | ')} | ${(ev[0] / ev[ev.length - 1]).toFixed(2)}x |`,
);
console.log(`load ${loadavg()[0].toFixed(1)} at the end`);
