/**
 * The UI's cost to a sweep: trivial tasks (a Piscina worker that returns at once, so the main thread
 * is the bottleneck and every task's events reach the UI) through the real coordinator, pool and
 * SQLite, with the live Ink UI mounted on a fake 120x40 TTY versus the plain --no-ui reporter.
 * Alternates the two modes to cancel drift; prints median tasks/s and the overhead.
 *
 * Run: npx tsc -p . && node dist/test/ui/overhead.js [rounds] [side]
 */
import { join } from 'node:path';
import { PiscinaRunner } from '../../src/pool/piscina-runner.js';
import { Coordinator } from '../../src/scheduler/coordinator.js';
import { parseSweep } from '../../src/sweep/index.js';
import { SweepStore } from '../../src/storage/store.js';
import { mountLiveUi } from '../../src/ui/live.js';
import { createPlainReporter } from '../../src/ui/plain.js';
import { tempDir } from '../helpers/fixtures.js';
import { fakeTty } from '../helpers/tty.js';

const rounds = Number(process.argv[2] ?? 5);
const side = Number(process.argv[3] ?? 40);

async function once(
  dir: string,
  mode: 'ui' | 'plain',
  i: number,
): Promise<{ tps: number; frames: number; uiShare: number }> {
  const text = `name: overhead-${mode}-${i}
fixed: {engine: reference, model: softmax, dataset: mnist, n_train: 100, steps: ${i + 1}}
grid:
  lr: {log: {from: 0.001, to: 1, num: ${side}}}
  batch_size: {linear: {from: 1, to: ${2 * side}, num: ${2 * side}}}
`;
  const store = SweepStore.open(join(dir, `${mode}-${i}.sqlite`));
  const runner = new PiscinaRunner({
    workers: 2,
    filename: new URL('../../bench/noop-worker.js', import.meta.url).href,
  });
  try {
    const sweep = parseSweep(text, 'overhead.yaml');
    const coordinator = new Coordinator({ store, sweep, runner, codeVersion: 'bench' });
    let frames = 0;
    let frameMs = 0;
    let eventMs = 0;
    let detach: () => Promise<void>;
    if (mode === 'ui') {
      // Time the UI's event folding too: a listener registered around it.
      let t = 0;
      coordinator.onEvent(() => (t = performance.now()));
      detach = mountLiveUi(coordinator, {
        stdout: fakeTty(),
        color: true,
        onFrame: (_vm, ms) => (frames++, (frameMs += ms)),
      });
      coordinator.onEvent(() => (eventMs += performance.now() - t));
    } else {
      const off = coordinator.onEvent(createPlainReporter({ write: () => frames++ }));
      detach = async () => off();
    }
    const t0 = performance.now();
    const summary = await coordinator.run();
    const seconds = (performance.now() - t0) / 1000;
    await detach();
    if (mode === 'ui')
      console.log(
        `  frames ${frameMs.toFixed(0)} ms, events ${eventMs.toFixed(0)} ms, wall ${(seconds * 1000).toFixed(0)} ms`,
      );
    return { tps: summary.trained / seconds, frames, uiShare: (frameMs + eventMs) / (seconds * 1000) };
  } finally {
    await runner.close();
    store.close();
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const { dir, cleanup } = tempDir('bopt-ui-overhead-');
try {
  await once(dir, 'plain', 99); // warm up
  const ui: number[] = [];
  const shares: number[] = [];
  const plain: number[] = [];
  for (let i = 0; i < rounds; i++) {
    for (const mode of i % 2 ? (['ui', 'plain'] as const) : (['plain', 'ui'] as const)) {
      const r = await once(dir, mode, i);
      (mode === 'ui' ? ui : plain).push(r.tps);
      if (mode === 'ui') shares.push(r.uiShare);
      const extra =
        mode === 'ui'
          ? `frames ${r.frames}, UI main-thread time ${(r.uiShare * 100).toFixed(2)}% of wall`
          : `lines ${r.frames}`;
      console.log(`round ${i} ${mode.padEnd(5)} ${r.tps.toFixed(0)} tasks/s (${extra})`);
    }
  }
  const mu = median(ui);
  const mp = median(plain);
  console.log(`${2 * side * side} trivial tasks per run, 2 workers, ${rounds} rounds`);
  console.log(
    `median: --no-ui ${mp.toFixed(0)} tasks/s, UI ${mu.toFixed(0)} tasks/s, throughput difference ${(((mp - mu) / mp) * 100).toFixed(2)}%`,
  );
  console.log(
    `UI main-thread time (frames + event folding), median: ${(median(shares) * 100).toFixed(2)}% of the sweep's wall time`,
  );
} finally {
  cleanup();
}
