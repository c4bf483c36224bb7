/**
 * mountLiveUi(coordinator): the Ink UI of `bopt run` on a terminal. Events are folded into the state
 * as they arrive (O(1) each, no rendering); a timer draws a frame at most `fps` times a second, and
 * only when something changed (or once a second, for the clock). However many tasks finish, the
 * sweep pays for a handful of frames a second.
 */
import { performance } from 'node:perf_hooks';
import { render } from 'ink';
import type { SweepEvent } from '../scheduler/events.js';
import { App, type Panel } from './app.js';
import { colorEnabled } from './format.js';
import { applyEvent, createState, markStopping, snapshot, type ViewModel } from './state.js';

/** What the UI needs of the coordinator (the Coordinator class satisfies it). */
export interface UiSource {
  onEvent(listener: (e: SweepEvent) => void): () => void;
  interrupt(): void;
  setPaused(paused: boolean): void;
  readonly isPaused: boolean;
}

export interface LiveUiOptions {
  stdout?: NodeJS.WriteStream;
  stdin?: NodeJS.ReadStream;
  stderr?: NodeJS.WriteStream;
  /** Frames per second at most. Default 5. */
  fps?: number;
  color?: boolean;
  /** q / Ctrl-C. Default: coordinator.interrupt(). `bopt run` routes it through its SIGINT handler. */
  onQuit?: () => void;
  initialPanel?: Panel;
  /** Called after each frame is handed to Ink with the ms it took (tests, overhead measurement). */
  onFrame?: (vm: ViewModel, ms: number) => void;
}

/** Mount the UI; returns detach(), which draws the final frame and unmounts. */
export function mountLiveUi(source: UiSource, options: LiveUiOptions = {}): () => Promise<void> {
  const fps = Math.min(30, Math.max(1, options.fps ?? 5));
  const color = options.color ?? colorEnabled();
  const state = createState();
  let dirty = true;
  let lastFrame = 0;

  const quit = (): void => {
    markStopping(state);
    dirty = true;
    (options.onQuit ?? (() => source.interrupt()))();
  };
  const togglePause = (): void => source.setPaused(!source.isPaused);
  const element = (vm: ViewModel) => (
    <App vm={vm} color={color} initialPanel={options.initialPanel} onQuit={quit} onTogglePause={togglePause} />
  );
  const frame = (): number => {
    const t0 = performance.now();
    dirty = false;
    lastFrame = Date.now();
    const vm = snapshot(state, lastFrame);
    instance.rerender(element(vm));
    const ms = performance.now() - t0;
    options.onFrame?.(vm, ms);
    return ms;
  };

  const off = source.onEvent((e) => {
    applyEvent(state, e);
    dirty = true;
  });
  // Ink takes an explicit `stdout: undefined` as the stream itself: pass only the streams given.
  const instance = render(element(snapshot(state)), {
    ...(options.stdout && { stdout: options.stdout }),
    ...(options.stdin && { stdin: options.stdin }),
    ...(options.stderr && { stderr: options.stderr }),
    exitOnCtrlC: false,
    maxFps: fps,
  });
  // Frame pacing: every 1000/fps ms while the main thread has time to spare. When the sweep keeps the
  // main thread more than 20% busy (e.g. trivial tasks: dispatch is the bottleneck), frames are spaced so that drawing
  // takes at most 1% of it, whatever a frame costs on this machine.
  const minDelay = Math.round(1000 / fps);
  let elu = performance.eventLoopUtilization();
  let frameMs = 0;
  let timer: NodeJS.Timeout;
  const tick = (): void => {
    const since = performance.eventLoopUtilization(elu);
    elu = performance.eventLoopUtilization();
    const total = since.active + since.idle;
    const busy = total > 0 ? Math.max(0, since.active - frameMs) / total : 0;
    frameMs = 0;
    if (dirty || Date.now() - lastFrame >= 1000) {
      frameMs = frame();
    }
    const delay = busy > 0.2 ? Math.max(minDelay, Math.min(5000, frameMs * 100)) : minDelay;
    timer = setTimeout(tick, delay);
    timer.unref();
  };
  timer = setTimeout(tick, minDelay);
  timer.unref();

  let detached: Promise<void> | null = null;
  return () => {
    detached ??= (async () => {
      clearTimeout(timer);
      off();
      frame();
      instance.unmount();
      await instance.waitUntilExit();
    })();
    return detached;
  };
}
