/**
 * mountLiveUi(coordinator): the Ink UI of `bopt run` on a terminal. Events are folded into the state
 * as they arrive (O(1) each, no rendering); a timer draws a frame at most `fps` times a second, and
 * only when something changed (or once a second, for the clock). However many tasks finish, the
 * sweep pays for a handful of frames a second.
 */
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
  /** Called after each frame is handed to Ink (tests, overhead measurement). */
  onFrame?: (vm: ViewModel) => void;
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
  const frame = (): void => {
    dirty = false;
    lastFrame = Date.now();
    const vm = snapshot(state, lastFrame);
    instance.rerender(element(vm));
    options.onFrame?.(vm);
  };

  const off = source.onEvent((e) => {
    applyEvent(state, e);
    dirty = true;
  });
  const instance = render(element(snapshot(state)), {
    stdout: options.stdout,
    stdin: options.stdin,
    stderr: options.stderr,
    exitOnCtrlC: false,
    maxFps: fps,
  });
  const timer = setInterval(() => {
    if (dirty || Date.now() - lastFrame >= 1000) frame();
  }, Math.round(1000 / fps));
  timer.unref();

  let detached: Promise<void> | null = null;
  return () => {
    detached ??= (async () => {
      clearInterval(timer);
      off();
      frame();
      instance.unmount();
      await instance.waitUntilExit();
    })();
    return detached;
  };
}
