import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { render } from 'ink-testing-library';
import { App } from '../../src/ui/app.js';
import { mountLiveUi, type UiSource } from '../../src/ui/live.js';
import { reduce, type ViewModel } from '../../src/ui/state.js';
import type { SearchProgress, SweepEvent } from '../../src/scheduler/events.js';
import { createPlainReporter } from '../../src/ui/plain.js';
import { params, sweepEvents } from './events.js';
import { fakeTty } from '../helpers/tty.js';

const ESC = /\x1b\[/;
const vm = reduce(sweepEvents(), 60_000, 0);

test('overview frame: header, counts, throughput, ETA, workers, B_opt chart marks and the failure', () => {
  const r = render(<App vm={vm} color={false} columns={100} rows={40} />);
  const frame = r.lastFrame()!;
  r.unmount();
  assert.match(frame, /fig5-lr/);
  assert.match(frame, /db \/tmp\/ui\.sqlite · engine reference · 2 workers/);
  assert.match(frame, /done 18\/21 · running 2 · pending 0 · failed 1/);
  assert.match(frame, /18 tasks\/min · ETA 10\.9s/);
  assert.match(frame, /w0 .* 250\/1000 +loss 0\.250 +B=256 eps=2/);
  assert.match(frame, /w1 .* 500\/1000 +loss 1\.250/);
  assert.match(frame, /B_opt +o +x/, 'B_opt markers of the groups under the axis');
  assert.match(frame, /o eps=0\.5: B_opt 32/);
  assert.match(frame, /fit B_opt = k·eps/);
  assert.match(frame, /✗ kfail failed after 3: loss became NaN at step 17/);
  assert.doesNotMatch(frame, ESC, 'NO_COLOR: no escape codes');
});

test('every width from 60 to 200 lays out without wrapping and within the terminal height', () => {
  for (const columns of [60, 80, 100, 120, 160, 200]) {
    for (const rows of [24, 40, 60]) {
      for (const panel of ['overview', 'science', 'search', 'failures'] as const) {
        const r = render(<App vm={vm} color={false} columns={columns} rows={rows} initialPanel={panel} />);
        const lines = r.lastFrame()!.split('\n');
        r.unmount();
        assert.ok(lines.length < rows, `${columns}x${rows} ${panel}: ${lines.length} lines`);
        for (const l of lines) assert.ok([...l].length < columns, `${columns}x${rows} ${panel}: ${JSON.stringify(l)}`);
        assert.match(lines[0]!, /fig5-lr/);
      }
    }
  }
});

/** Waits until `check` holds (the app reacts to input asynchronously; a loaded machine is slow). */
async function until(check: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > timeoutMs) assert.fail(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

test('keys: tab switches panels, p toggles pause, q quits', async () => {
  let quits = 0;
  let pauses = 0;
  const r = render(
    <App vm={vm} color={false} columns={100} rows={40} onQuit={() => quits++} onTogglePause={() => pauses++} />,
  );
  assert.match(r.lastFrame()!, /\[overview\]/);
  await sleep(20);
  const next = async (panel: RegExp): Promise<void> => {
    r.stdin.write('\t');
    await until(() => panel.test(r.lastFrame()!), String(panel));
  };
  await next(/\[science\]/);
  assert.match(r.lastFrame()!, /test accuracy vs log B by eps/);
  await next(/\[search\]/);
  assert.match(r.lastFrame()!, /a grid sweep/);
  await next(/\[failures \(1\)\]/);
  assert.match(r.lastFrame()!, /loss became NaN at step 17/);
  r.stdin.write('p');
  r.stdin.write('q');
  await until(() => pauses === 1 && quits === 1, 'p and q');
  r.unmount();
  assert.equal(pauses, 1);
  assert.equal(quits, 1);
});

test('paused phase is shown; with colour the active tab is highlighted instead of bracketed', () => {
  const paused = reduce([...sweepEvents(), { type: 'paused', paused: true }], 60_000, 0);
  const r = render(<App vm={paused} color columns={100} rows={40} />);
  const frame = r.lastFrame()!;
  r.unmount();
  assert.doesNotMatch(frame, /\[overview\]/);
  assert.match(frame, /paused/);
  assert.match(frame, /ETA paused/);
  assert.match(frame, /p resume/);
});

class FakeSource implements UiSource {
  private readonly emitter = new EventEmitter();
  isPaused = false;
  interrupted = 0;
  onEvent(listener: (e: SweepEvent) => void) {
    this.emitter.on('e', listener);
    return () => void this.emitter.off('e', listener);
  }
  emit(e: SweepEvent) {
    this.emitter.emit('e', e);
  }
  interrupt() {
    this.interrupted++;
  }
  setPaused(p: boolean) {
    this.isPaused = p;
    this.emit({ type: 'paused', paused: p });
  }
}

test('mountLiveUi draws at most ~5 frames a second however many events arrive, and a final frame', async () => {
  const source = new FakeSource();
  const frames: ViewModel[] = [];
  const stdout = fakeTty();
  const detach = mountLiveUi(source, { stdout, color: false, onFrame: (v) => frames.push(v) });
  const events = sweepEvents();
  const started = Date.now();
  // ~1 s of a flood: 21 tasks' events replayed, plus thousands of progress events.
  source.emit(events[0]!);
  const p = params();
  source.emit({ type: 'task-start', key: 'flood', params: p, lane: 0, attempt: 1, cost: 1 });
  while (Date.now() - started < 1000) {
    for (let i = 0; i < 2000; i++)
      source.emit({ type: 'task-progress', key: 'flood', lane: 0, step: i, totalSteps: 2000, loss: 1 });
    await sleep(5);
  }
  source.emit({
    type: 'task-done',
    key: 'flood',
    params: p,
    lane: 0,
    cost: 1,
    testAccuracy: 0.9,
    trainAccuracy: 1,
    diverged: false,
    wallMs: 1,
  });
  source.emit({
    type: 'sweep-end',
    counts: { pending: 20, running: 0, done: 1, failed: 0 },
    reason: 'interrupted',
    wallMs: 1000,
  });
  await detach();
  // Bounded by the time the flood really took (a loaded machine stretches the 1 s), never by the
  // tens of thousands of events: without the throttle there would be one frame per event.
  const seconds = (Date.now() - started) / 1000;
  assert.ok(
    frames.length >= 2 && frames.length <= Math.ceil(seconds * 5) + 3,
    `${frames.length} frames in ${seconds} s`,
  );
  const last = frames.at(-1)!;
  assert.equal(last.phase, 'interrupted');
  assert.equal(last.counts.done, 1);
});

const SEARCH: SearchProgress = {
  groups: [
    {
      label: 'n_train=1000',
      phase: 'seeds',
      round: 4,
      points: 9,
      best: { batchSize: 45, accuracy: 0.9123, seeds: 5 },
      bracket: [36, 56],
      predicted: null,
      tasksUsed: 27,
      maxTasks: 60,
      epochsUsed: 3210,
      maxEpochs: 15000,
    },
    {
      label: 'n_train=5000',
      phase: 'waiting',
      round: 0,
      points: 0,
      best: null,
      bracket: null,
      predicted: null,
      tasksUsed: 0,
      maxTasks: 60,
      epochsUsed: 0,
      maxEpochs: 15000,
    },
  ],
  laterCostExpected: 1000,
  laterCostMax: 3000,
  laterTasksExpected: 20,
};

test('a search round: the search panel shows each group, the ETA counts the later rounds, the log lists them', () => {
  const events = sweepEvents().map((e) => (e.type === 'sweep-start' ? { ...e, search: SEARCH } : e));
  const grid = reduce(sweepEvents(), 60_000, 0);
  const searched = reduce(events, 60_000, 0);
  assert.ok(grid.etaMs !== null && searched.etaMs !== null && searched.etaMaxMs !== null);
  assert.ok(searched.etaMs > grid.etaMs, 'later rounds add to the ETA');
  assert.ok(searched.etaMaxMs > searched.etaMs);
  assert.equal(grid.etaMaxMs, null);
  const r = render(<App vm={searched} color={false} columns={160} rows={40} initialPanel="search" />);
  const frame = r.lastFrame()!;
  r.unmount();
  assert.match(frame, /search: 2 groups \(1 seeds · 1 waiting\); later rounds ~20 tasks expected/);
  assert.match(
    frame,
    /n_train=1000 +seeds r4 +B 36\.\.56 +best 45 \(0\.9123, 5 seeds\) +9 points +tasks 27\/60 +epochs 3210\/15000/,
  );
  assert.match(frame, /n_train=5000 +waiting for the prior/);
  assert.match(frame, /\(at most /);
  const lines: string[] = [];
  const report = createPlainReporter({ write: (l) => lines.push(l), now: () => 0 });
  for (const e of events) report(e);
  assert.ok(lines.some((l) => /^search: 2 groups/.test(l)));
  assert.ok(lines.some((l) => /^ {2}n_train=1000 +seeds r4/.test(l)));
});
