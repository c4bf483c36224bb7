/**
 * Before/after of the native addon: two builds of bopt_native.node, timed interleaved in one process
 * (A, B, A, B, ...: a loaded machine slows both alike), and checked for identical parameters after the
 * same steps and identical test loss.
 *
 *   node dist/bench/native-ab.js OLD.node NEW.node [--batches 1,10,100,1000] [--rounds 5] [--cpu-time] [--width 8]
 *
 * --cpu-time times by this process's CPU time (user + system) instead of the wall clock, in windows of
 * 2 ms: on a machine shared with other work the time the process waits for a core is then left out.
 * --width runs both builds' hot loops in vectors of that many floats (16, 8, or 0 for the portable loops)
 * instead of the widest this CPU has: an AVX-512 machine then also measures the AVX2 loops.
 */
import { createRequire } from 'node:module';
import { cpus } from 'node:os';
import { resolve } from 'node:path';
import { batchSequence } from '../src/engines/driver.js';
import { BENCH_LR, BENCH_MOMENTUM, benchMlpTraining, bestMicrosPerExample } from './kernel-timing.js';
import { createNativeKernel, type NativeAddon } from '../src/engines/native/index.js';

const LR = BENCH_LR;
const MOMENTUM = BENCH_MOMENTUM;

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const files = process.argv.slice(2, 4);
if (files.length !== 2 || files.some((f) => !f.endsWith('.node'))) {
  console.error('usage: native-ab OLD.node NEW.node [--batches 1,10,100,1000] [--rounds 5] [--cpu-time] [--width 8]');
  process.exit(2);
}
const addons = files.map((f) => createRequire(import.meta.url)(resolve(f)) as NativeAddon);
const batches = (flag('batches') ?? '1,10,100,1000').split(',').map(Number);
const rounds = Number(flag('rounds') ?? '5');
const cpuTime = process.argv.includes('--cpu-time');
const widthFlag = flag('width');
const width = widthFlag === undefined ? undefined : Number(widthFlag);
if (width !== undefined && ![0, 8, 16].includes(width)) {
  console.error(`native-ab: --width must be 16, 8 or 0, not ${widthFlag}`);
  process.exit(2);
}
/** Milliseconds: the wall clock, or with --cpu-time this process's CPU time. */
const clock = cpuTime
  ? () => {
      const u = process.cpuUsage();
      return (u.user + u.system) / 1000;
    }
  : () => performance.now();
const windowMs = cpuTime ? 2 : 20;
const prep = benchMlpTraining('reference');

function kernelOf(addon: NativeAddon) {
  const k = createNativeKernel(addon, prep.shape, prep.train, { lr: LR, momentum: MOMENTUM, l2: 0 });
  k.setParameters(prep.initialParams);
  if (width !== undefined) k.native.setVectorWidth!(width);
  return k;
}

/** Best µs/example over windows of `windowMs` during `ms` milliseconds (of `clock`). */
function time(addon: NativeAddon, B: number, ms: number): number {
  return bestMicrosPerExample(kernelOf(addon), prep.train.n, B, ms, clock, windowMs);
}

function timeEval(addon: NativeAddon): number {
  const k = kernelOf(addon);
  k.step(batchSequence(0, prep.train.n, 10).next().value);
  const t = clock();
  k.evaluate(prep.test);
  const s = (clock() - t) / 1000;
  k.dispose?.();
  return s;
}

// identical numbers: the same steps from the same start, every batch size
for (const B of batches) {
  const params = addons.map((a) => {
    const k = kernelOf(a);
    const it = batchSequence(2, prep.train.n, B);
    for (let i = 0; i < 5; i++) k.step(it.next().value);
    const p = k.getParameters();
    const ev = k.evaluate(prep.test);
    k.dispose?.();
    return { p, loss: ev.loss };
  });
  let diff = 0;
  for (let i = 0; i < params[0].p.length; i++) if (params[0].p[i] !== params[1].p[i]) diff++;
  console.log(
    `B=${B}: ${diff} of ${params[0].p.length} parameters differ after 5 steps; test loss ${params[0].loss} vs ${params[1].loss}`,
  );
}

console.log(`CPU: ${cpus()[0]?.model ?? 'unknown'} (${cpus().length} logical cores)`);
console.log(
  `native MLP 784-800-10, n_train 1000, lr ${LR}, momentum ${MOMENTUM}; best of ${rounds} interleaved rounds` +
    (cpuTime ? ' (CPU time)' : '') +
    (width !== undefined ? `; loops in ${width === 0 ? 'portable code' : `${width}-float vectors`}` : ''),
);
console.log('| B | before µs/example | after µs/example | before/after |');
console.log('|---:|---:|---:|---:|');
for (const B of batches) {
  const best = [Infinity, Infinity];
  for (let r = 0; r < rounds; r++) for (let a = 0; a < 2; a++) best[a] = Math.min(best[a], time(addons[a], B, 300));
  console.log(`| ${B} | ${best[0].toFixed(2)} | ${best[1].toFixed(2)} | ${(best[0] / best[1]).toFixed(2)}x |`);
}
const ev = [Infinity, Infinity];
for (let r = 0; r < 3; r++) for (let a = 0; a < 2; a++) ev[a] = Math.min(ev[a], timeEval(addons[a]));
console.log(`| eval 10,000 | ${ev[0].toFixed(3)} s | ${ev[1].toFixed(3)} s | ${(ev[0] / ev[1]).toFixed(2)}x |`);
