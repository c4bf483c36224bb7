/**
 * `bopt watch [SWEEP]`: the live UI (or plain lines) of a sweep another process runs, read-only from
 * the database through ui/watch.ts's SweepWatcher.
 */
import { resolveDatabasePath } from '../../paths.js';
import { colorEnabled } from '../../ui/format.js';
import { progressLine, scienceLine } from '../../ui/plain.js';
import { SweepWatcher } from '../../ui/watch.js';
import { onStopSignals } from '../signals.js';

export interface WatchOptions {
  db?: string;
  ui: boolean;
  /** Poll period in ms. Default 500 (the coordinator publishes progress every 500 ms). */
  interval?: number;
}

/** The `bopt watch` command. Returns the exit code. */
export async function watchCommand(name: string | undefined, options: WatchOptions): Promise<number> {
  const watcher = new SweepWatcher(resolveDatabasePath(options.db), name);
  const interval = Math.max(100, options.interval ?? 500);
  try {
    if (options.ui && process.stdout.isTTY && process.env.TERM !== 'dumb') await watchWithUi(watcher, interval);
    else await watchPlain(watcher, interval);
  } finally {
    watcher.close();
  }
  return 0;
}

async function watchWithUi(watcher: SweepWatcher, interval: number): Promise<void> {
  const [{ render }, { createElement }, { App }] = await Promise.all([
    import('ink'),
    import('react'),
    import('../../ui/app.js'),
  ]);
  const color = colorEnabled();
  let stop: () => void = () => {};
  const done = new Promise<void>((resolve) => (stop = resolve));
  const element = () => createElement(App, { vm: watcher.poll(), color, readOnly: true, onQuit: () => stop() });
  const instance = render(element(), { exitOnCtrlC: false, maxFps: 5 });
  const timer = setInterval(() => instance.rerender(element()), interval);
  const detachSignals = onStopSignals(() => stop(), 'bopt watch: second interrupt, exiting now');
  try {
    await done;
  } finally {
    detachSignals();
    clearInterval(timer);
    instance.unmount();
    await instance.waitUntilExit();
  }
}

/** Not a terminal: a line a second while the sweep runs (and one per new failure); ends when it stops. */
async function watchPlain(
  watcher: SweepWatcher,
  interval: number,
  write = (l: string) => process.stdout.write(l + '\n'),
): Promise<void> {
  const seen = new Set<string>();
  let last = -Infinity;
  let stopped = false;
  const onSignal = () => (stopped = true);
  process.on('SIGINT', onSignal);
  try {
    for (;;) {
      const vm = watcher.poll();
      for (const f of [...vm.failures].reverse()) {
        const id = `${f.key}:${f.attempts}`;
        if (seen.has(id)) continue;
        seen.add(id);
        if (last > -Infinity)
          write(`${f.final ? 'failed' : 'retry'}: task ${f.key.slice(0, 12)} after ${f.attempts} attempts: ${f.error}`);
      }
      const now = Date.now();
      if (vm.phase !== 'running' || stopped) {
        const science = scienceLine(vm);
        if (science) write(science);
        write(
          `${vm.phase === 'complete' ? 'complete' : 'not running'}: ${progressLine(vm).replace(/^progress: /, '')}`,
        );
        return;
      }
      if (now - last >= 1000) {
        last = now;
        write(`${watcher.name} ${progressLine(vm)}`);
      }
      await new Promise((r) => setTimeout(r, interval));
    }
  } finally {
    process.off('SIGINT', onSignal);
  }
}
