/**
 * Chaos check of exactly-once resume: `bopt run` is killed with SIGKILL at random moments during a
 * small sweep and run again each time, until the sweep completes; then every result is compared
 * with an uninterrupted run of the same sweep. Checked: no task lost (every task done, one result
 * each), none duplicated (one result row and one curve point per step), nothing left `running`, no
 * kill counted as a failed attempt, and bit-identical numbers (results and curves).
 *
 *   npm run build && nice -n 10 node dist/bench/chaos.js [KILLS] [SEED]
 *
 * Rounds: when a sweep completes before KILLS kills, another round starts with a fresh database.
 * Exit status 0 when every check holds, 1 otherwise.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stream } from '../src/engines/rng.js';
import { packageRoot } from '../src/paths.js';
import { queryReadOnly } from '../src/storage/query.js';

const kills = Number(process.argv[2] ?? 20);
const seed = Number(process.argv[3] ?? 1);
const CLI = join(packageRoot(), 'dist', 'src', 'cli', 'main.js');

/** 24 small MLP tasks (0.1–1 s each on the reference engine), with curves. */
const SWEEP = `name: chaos
fixed:
  engine: reference
  model: mlp
  hidden: 32
  dataset: mnist
  n_train: 200
  n_test: 200
  steps: 150
  eval_every: 50
grid:
  lr: [0.05, 0.1, 0.2]
  batch_size: [8, 16, 32, 64]
repeats: 2
`;

interface RunEnd {
  code: number | null;
  signal: NodeJS.Signals | null;
}

function startRun(file: string, db: string): { done: Promise<RunEnd>; kill: () => void } {
  const child = spawn(process.execPath, [CLI, 'run', file, '--db', db, '--no-ui', '--workers', '2'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = once(child, 'exit').then(([code, signal]) => {
    if (code !== null && code !== 0) process.stderr.write(`chaos: run exited ${code}: ${stderr.trim()}\n`);
    return { code: code as number | null, signal: signal as NodeJS.Signals | null };
  });
  return { done, kill: () => child.kill('SIGKILL') };
}

const RESULT_SQL = `SELECT task_key, train_accuracy, train_loss, test_accuracy, test_loss, steps_done, diverged,
  engine, engine_version, backend, log_evidence FROM results ORDER BY task_key`;
const CURVE_SQL = 'SELECT task_key, step, train_loss, test_loss, test_accuracy FROM curves ORDER BY task_key, step';

interface Snapshot {
  results: string[];
  curves: string[];
  tasks: number;
  done: number;
  running: number;
  attempts: number;
  resultRows: number;
  distinctResults: number;
  duplicateCurvePoints: number;
}

function snapshot(path: string): Snapshot {
  const count = (sql: string): number => Number(queryReadOnly(path, sql).rows[0]![0]);
  // Numbers as their exact IEEE bits: JSON of a double round-trips it exactly.
  const rows = (sql: string): string[] => queryReadOnly(path, sql).rows.map((r) => JSON.stringify(r));
  return {
    results: rows(RESULT_SQL),
    curves: rows(CURVE_SQL),
    tasks: count('SELECT count(*) FROM tasks'),
    done: count("SELECT count(*) FROM tasks WHERE state = 'done'"),
    running: count("SELECT count(*) FROM tasks WHERE state = 'running'"),
    attempts: count('SELECT coalesce(sum(attempts), 0) FROM tasks'),
    resultRows: count('SELECT count(*) FROM results'),
    distinctResults: count('SELECT count(DISTINCT task_key) FROM results'),
    duplicateCurvePoints: count(
      'SELECT count(*) FROM (SELECT task_key, step FROM curves GROUP BY 1, 2 HAVING count(*) > 1)',
    ),
  };
}

const dir = mkdtempSync(join(tmpdir(), 'bopt-chaos-'));
const file = join(dir, 'chaos.yaml');
writeFileSync(file, SWEEP);
const rng = stream(seed, 'chaos');
let failures = 0;
const fail = (what: string): void => {
  failures++;
  console.log(`FAIL: ${what}`);
};

try {
  console.log(`chaos: ${kills} SIGKILLs of the coordinator, seed ${seed}, ${cpus()[0]?.model ?? 'unknown CPU'}`);
  const t0 = Date.now();
  const reference = join(dir, 'reference.sqlite');
  const ref = startRun(file, reference);
  const refEnd = await ref.done;
  const refMs = Date.now() - t0;
  if (refEnd.code !== 0) throw new Error(`the uninterrupted run exited ${refEnd.code}`);
  const expected = snapshot(reference);
  console.log(`uninterrupted run: ${expected.tasks} tasks, ${expected.curves.length} curve points, ${refMs} ms`);

  let killed = 0;
  let rounds = 0;
  let runs = 0;
  const totals = { lost: 0, duplicated: 0, leftRunning: 0, attempts: 0, mismatched: 0 };
  while (killed < kills) {
    rounds++;
    const db = join(dir, `chaos-${rounds}.sqlite`);
    for (;;) {
      runs++;
      const run = startRun(file, db);
      // A random moment of the run: anywhere from start-up to well past half of an uninterrupted run.
      const at = 100 + rng.uniform() * refMs * 0.6;
      const end = await Promise.race([run.done, sleep(at).then(() => null)]);
      if (end === null && killed < kills) {
        run.kill();
        await run.done;
        killed++;
        continue;
      }
      const finished = end ?? (await run.done);
      if (finished.code !== 0) fail(`round ${rounds}: a run exited ${finished.code} (${finished.signal ?? ''})`);
      break;
    }
    const got = snapshot(db);
    const lost = got.tasks - got.done;
    const duplicated = got.resultRows - got.distinctResults + got.duplicateCurvePoints;
    const expectedSet = new Set(expected.results);
    const mismatched =
      got.results.filter((r) => !expectedSet.has(r)).length +
      Math.abs(got.results.length - expected.results.length) +
      (got.curves.join('\n') === expected.curves.join('\n') ? 0 : 1);
    totals.lost += lost;
    totals.duplicated += duplicated;
    totals.leftRunning += got.running;
    totals.attempts += got.attempts;
    totals.mismatched += mismatched;
    if (lost || duplicated || got.running || got.attempts || mismatched)
      fail(
        `round ${rounds}: lost ${lost}, duplicated ${duplicated}, running ${got.running}, attempts ${got.attempts}, differing ${mismatched}`,
      );
    console.log(
      `round ${rounds}: completed after ${killed} kill(s) in all; ${got.done}/${got.tasks} done, results identical: ${mismatched === 0}`,
    );
  }
  console.log(
    `kills ${killed}, runs ${runs}, rounds ${rounds} (${expected.tasks} tasks each), lost ${totals.lost}, duplicated ${totals.duplicated}, ` +
      `left running ${totals.leftRunning}, attempts counted ${totals.attempts}, results differing from the uninterrupted run ${totals.mismatched}; ` +
      `${((Date.now() - t0) / 1000).toFixed(0)} s`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
process.exit(failures === 0 ? 0 : 1);
