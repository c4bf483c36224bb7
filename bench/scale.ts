/**
 * Scale of the orchestrator itself, on grids of the smallest logistic-regression tasks (not part of
 * npm test: minutes, gigabytes of disk):
 *   register  validating + storing an N-point grid (default 1,000,000) the way `bopt run` does;
 *   run       `bopt run` on an N-point grid (default 10,000,000) for S seconds of dispatch, stopped
 *             with SIGINT, then `bopt resume` killed with SIGKILL and resumed again: peak RSS of every
 *             coordinator (VmHWM from /proc), and the database checked for lost or repeated tasks;
 *   tasks     tiny real tasks (native engine) through coordinator + pool + SQLite on 1 and 2 workers.
 * Run: npm run build && node dist/bench/scale.js [register|run|tasks ...] [--points N] [--seconds S]
 *      [--tasks N] [--dir DIR] (default: all three, in a temporary folder removed at the end); --help.
 */
import { spawn } from 'node:child_process';
import { Command, InvalidArgumentError } from 'commander';
import { cpus, loadavg } from 'node:os';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { PiscinaRunner } from '../src/pool/piscina-runner.js';
import { Coordinator, REGISTER_BATCH } from '../src/scheduler/coordinator.js';
import { stageSweep } from '../src/scheduler/stage.js';
import { queryReadOnly } from '../src/storage/query.js';
import { SweepStore } from '../src/storage/store.js';
import { parseSweep } from '../src/sweep/index.js';
import { CLI } from '../test/helpers/cli.js';
import { tempDir } from '../test/helpers/fixtures.js';

const BENCHES = ['register', 'run', 'tasks'] as const;
const positiveInt = (value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer');
  return n;
};
const program = new Command()
  .name('node dist/bench/scale.js')
  .description('Scale of the orchestrator itself on grids of the smallest logistic-regression tasks.')
  .argument('[benches...]', `which to run, of ${BENCHES.join(', ')} (default: all)`)
  .option('--points <n>', 'grid points (default: register 1,000,000, run 10,000,000)', positiveInt)
  .option('--seconds <s>', 'run: seconds of dispatch before the first stop', positiveInt, 60)
  .option('--tasks <n>', 'tasks: tiny tasks per worker count', positiveInt, 20_000)
  .option('--dir <dir>', 'where the databases go (default: a temporary folder, removed at the end)')
  .showHelpAfterError('(run with --help for usage)')
  .parse();
const opts = program.opts<{ points?: number; seconds: number; tasks: number; dir?: string }>();
const parts = program.processedArgs[0] as string[];
for (const p of parts)
  if (!(BENCHES as readonly string[]).includes(p))
    program.error(`unknown bench "${p}" (expected ${BENCHES.join(', ')})`);

/** A grid of `points` tiny logreg tasks: lr x l2 x seeds, every task distinct. */
function gridYaml(name: string, points: number, engine = 'native'): string {
  const seeds = 10;
  const l2 = Math.min(1000, Math.max(1, Math.round(points / seeds / 1000)));
  const lr = Math.round(points / seeds / l2);
  if (lr * l2 * seeds !== points) throw new Error(`--points ${points}: use a multiple of 10,000`);
  return `name: ${name}
fixed: {engine: ${engine}, model: logreg, dataset: synthetic, features: 2, n_train: 1, n_test: 1, batch_size: 1, steps: 1}
grid:
  lr: {linear: {from: 0.001, to: 1, num: ${lr}}}
  l2: {linear: {from: 0, to: 0.1, num: ${l2}}}
repeats: ${seeds}
`;
}

function peakRssMb(pid: number = process.pid): number | null {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null; // the process is gone
  }
}

/** CPU seconds of this process so far (user + system): less sensitive to other load than the wall clock. */
const cpuSeconds = (): string => {
  const u = process.cpuUsage();
  return ((u.user + u.system) / 1e6).toFixed(1);
};

async function registerBench(dir: string, points: number): Promise<void> {
  const file = join(dir, 'register.yaml');
  writeFileSync(file, gridYaml('register', points));
  const t0 = performance.now();
  const sweep = parseSweep(readFileSync(file, 'utf8'), file);
  const t1 = performance.now();
  const store = SweepStore.open(join(dir, 'register.sqlite'));
  try {
    // The calls `bopt run` makes: spec and lease in one transaction, then the tasks in batches.
    const { sweepId } = store.registerAndLease(sweep, 'bench', 'bench', 60_000);
    const registration = store.beginRegistration(sweepId);
    await stageSweep(registration, sweep, { batch: REGISTER_BATCH, between: () => Promise.resolve(true) });
    const t15 = performance.now();
    while (!registration.storeNext(REGISTER_BATCH).done);
    registration.discard();
    const t2 = performance.now();
    const total = store.counts(sweepId).total;
    if (total !== points) throw new Error(`registered ${total} of ${points} tasks`);
    console.log(
      `register: ${points} tasks: validate ${((t1 - t0) / 1000).toFixed(1)} s + expand and store ` +
        `${((t2 - t1) / 1000).toFixed(1)} s (expand and stage ${((t15 - t1) / 1000).toFixed(1)} s, store ` +
        `${((t2 - t15) / 1000).toFixed(1)} s) = ${((t2 - t0) / 1000).toFixed(1)} s, CPU ${cpuSeconds()} s ` +
        `(${Math.round(points / ((t2 - t0) / 1000))} tasks/s), peak RSS ${peakRssMb()?.toFixed(0)} MB`,
    );
  } finally {
    store.close();
  }
}

interface CliRun {
  code: number | null;
  signal: string | null;
  peakMb: number;
  startedMs: number | null;
  wallMs: number;
  lastLine: string;
}

/**
 * `bopt ARGS` with its peak RSS sampled; `stop` says when to send `signal` (SIGINT or SIGKILL),
 * counted from the moment it printed its `sweep ...` line (registration done, dispatch starting).
 */
async function cliRun(cmd: string[], stopAfterMs: number, signal: NodeJS.Signals): Promise<CliRun> {
  const t0 = performance.now();
  const child = spawn(process.execPath, [CLI, ...cmd], { stdio: ['ignore', 'pipe', 'pipe'] });
  let startedMs: number | null = null;
  let lastLine = '';
  let peakMb = 0;
  const onData = (chunk: Buffer): void => {
    for (const line of chunk.toString().split('\n').filter(Boolean)) {
      lastLine = line.slice(0, 200);
      if (startedMs === null && line.startsWith('sweep ')) startedMs = performance.now() - t0;
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
    child.on('exit', (code, sig) => resolve({ code, signal: sig })),
  );
  let done: { code: number | null; signal: string | null } | undefined;
  void exited.then((d) => (done = d));
  let sent = false;
  while (!done) {
    peakMb = Math.max(peakMb, peakRssMb(child.pid!) ?? 0);
    if (!sent && startedMs !== null && performance.now() - t0 - startedMs >= stopAfterMs) {
      child.kill(signal);
      sent = true;
    }
    await sleep(200);
  }
  return { ...done, peakMb, startedMs, wallMs: performance.now() - t0, lastLine };
}

function checkDatabase(
  dbPath: string,
  name: string,
): { done: number; pending: number; running: number; results: number } {
  const r = queryReadOnly(
    dbPath,
    `SELECT coalesce(sum(t.state = 'done'), 0) AS done, coalesce(sum(t.state = 'pending'), 0) AS pending,
            coalesce(sum(t.state = 'running'), 0) AS running, count(r.task_key) AS results
     FROM sweep_tasks st JOIN sweeps s ON s.id = st.sweep_id JOIN tasks t ON t.key = st.task_key
     LEFT JOIN results r ON r.task_key = t.key WHERE s.name = ?`,
    [name],
  );
  const [done, pending, running, results] = r.rows[0]!.map(Number);
  return { done: done!, pending: pending!, running: running!, results: results! };
}

async function runBench(dir: string, points: number, seconds: number): Promise<void> {
  const name = `grid${points}`;
  const file = join(dir, `${name}.yaml`);
  const dbPath = join(dir, `${name}.sqlite`);
  writeFileSync(file, gridYaml(name, points));
  const report = (label: string, r: CliRun): void =>
    console.log(
      `run: ${label}: exit ${r.code ?? r.signal}, peak RSS ${r.peakMb.toFixed(0)} MB, dispatch started after ` +
        `${r.startedMs === null ? '-' : (r.startedMs / 1000).toFixed(1) + ' s'}, wall ${(r.wallMs / 1000).toFixed(1)} s; ${r.lastLine}`,
    );
  const verify = (label: string, before: number): number => {
    const c = checkDatabase(dbPath, name);
    const ok = c.results === c.done && c.running === 0 && c.done + c.pending === points && c.done >= before;
    console.log(
      `run: after ${label}: ${c.done} done, ${c.pending} pending, ${c.running} running, ${c.results} results: ${ok ? 'consistent' : 'INCONSISTENT'}`,
    );
    if (!ok) process.exitCode = 1;
    return c.done;
  };
  const first = await cliRun(['run', file, '--no-ui', '--db', dbPath], seconds * 1000, 'SIGINT');
  report(`bopt run (${points} tasks), SIGINT after ${seconds} s of dispatch`, first);
  const done = verify('SIGINT', 0);
  const killed = await cliRun(['resume', name, '--no-ui', '--db', dbPath], (seconds / 2) * 1000, 'SIGKILL');
  report(`bopt resume, SIGKILL after ${seconds / 2} s`, killed);
  // A SIGKILL leaves its tasks running; the next coordinator reclaims them (checked after it).
  const resumed = await cliRun(['resume', name, '--no-ui', '--db', dbPath], (seconds / 2) * 1000, 'SIGINT');
  report(`bopt resume, SIGINT after ${seconds / 2} s`, resumed);
  verify('kill -9 and resume', done);
}

async function tasksBench(dir: string, tasks: number): Promise<void> {
  for (const workers of [1, 2]) {
    const name = `tiny${workers}`;
    const store = SweepStore.open(join(dir, `${name}.sqlite`));
    const runner = new PiscinaRunner({ workers });
    try {
      const sweep = parseSweep(gridYaml(name, tasks), `${name}.yaml`);
      const coordinator = new Coordinator({ store, sweep, runner, codeVersion: 'bench' });
      let firstStart = 0;
      coordinator.onEvent((e) => {
        if (e.type === 'sweep-start') firstStart = performance.now();
      });
      const summary = await coordinator.run();
      const seconds = (performance.now() - firstStart) / 1000;
      if (summary.counts.done !== tasks) throw new Error(`tiny tasks incomplete: ${JSON.stringify(summary.counts)}`);
      console.log(
        `tasks: ${tasks} tiny real tasks (native logreg, 1 step), ${workers} worker${workers > 1 ? 's' : ''}: ${Math.round(tasks / seconds)} tasks/s`,
      );
    } finally {
      await runner.close();
      store.close();
    }
  }
}

const wanted: readonly string[] = parts.length ? parts : BENCHES;
const given = opts.dir;
const temp = given ? { dir: given, cleanup: () => {} } : tempDir('bopt-scale-');
if (given) mkdirSync(given, { recursive: true });
console.log(
  `scale bench: ${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, load average ${loadavg()
    .map((x) => x.toFixed(1))
    .join(' ')}`,
);
try {
  if (wanted.includes('register')) await registerBench(temp.dir, opts.points ?? 1_000_000);
  if (wanted.includes('run')) await runBench(temp.dir, opts.points ?? 10_000_000, opts.seconds);
  if (wanted.includes('tasks')) await tasksBench(temp.dir, opts.tasks);
} finally {
  if (!given) rmSync(temp.dir, { recursive: true, force: true });
}
