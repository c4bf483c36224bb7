/**
 * The adaptive search end to end through the spawned CLI: kill -9 mid-round then run again chooses
 * exactly the tasks an uninterrupted search chooses, and a search over a database that already holds
 * a grid of the same configs trains only what the grid lacks.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import Database from 'better-sqlite3';
import {
  SMALL_MLP_FIXED,
  bopt,
  boptAsync,
  countOf,
  exited,
  tempDir,
  waitForCount,
  writeSweep,
} from '../helpers/index.js';

let dir: string;
let cleanup: () => void;
before(() => ({ dir, cleanup } = tempDir()));
after(() => cleanup());

const SEARCH = (name: string) => `name: ${name}
${SMALL_MLP_FIXED}grid:
  lr: [0.05, 0.2]
search:
  from: 2
  to: 128
  resolution: 1.5
  coarse: 4
  seeds: 1
  peak_seeds: 2
  max_tasks: 10
`;

function sweepKeys(db: string, name: string): string[] {
  const h = new Database(db, { readonly: true });
  try {
    return h
      .prepare('SELECT st.task_key FROM sweep_tasks st JOIN sweeps s ON s.id = st.sweep_id WHERE s.name = ? ORDER BY 1')
      .pluck()
      .all(name) as string[];
  } finally {
    h.close();
  }
}

let uninterrupted: string[] = [];

test('a search run trains a few rounds and stops', () => {
  const db = join(dir, 'a.sqlite');
  const r = bopt(['run', writeSweep(dir, 'srch', SEARCH('srch')), '--db', db, '--workers', '2', '--no-ui']);
  assert.equal(r.status, 0, r.stderr);
  uninterrupted = sweepKeys(db, 'srch');
  // Rounds of one group join the running coordinator as soon as that group's round is complete, so
  // the whole search is one coordinator run (one start line) with tasks added along the way.
  assert.equal(r.stdout.match(/^sweep srch:/gm)?.length, 1, r.stdout);
  assert.match(r.stdout, /^\+\d+ tasks; search: 2 groups/m);
  // Both groups searched, within budget, fewer than the 2 × 11 × 2 lattice tasks.
  assert.ok(uninterrupted.length >= 8 && uninterrupted.length <= 20, `${uninterrupted.length} tasks`);
  assert.equal(countOf(db, 'SELECT count(*) FROM results'), uninterrupted.length);
});

test('running a finished search again trains nothing and says so', () => {
  const db = join(dir, 'a.sqlite');
  const r = bopt(['run', writeSweep(dir, 'srch', SEARCH('srch')), '--db', db, '--workers', '2', '--no-ui']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(
    r.stdout,
    new RegExp(
      `^sweep srch: search complete, ${uninterrupted.length}/${uninterrupted.length} tasks done, 0 failed, nothing to run$`,
      'm',
    ),
  );
  assert.equal(countOf(db, 'SELECT count(*) FROM results'), uninterrupted.length);
});

test('fit, plot and report work on a search sweep as on a grid; fit says how many seeds back each point', () => {
  const db = join(dir, 'a.sqlite');
  const fit = bopt(['fit', 'srch', '--db', db]);
  assert.equal(fit.status, 0, fit.stderr);
  assert.match(fit.stdout, /\*\*lr = 0\.05\*\*/);
  assert.match(fit.stdout, /\*\*lr = 0\.2\*\*/);
  assert.match(fit.stdout, /\| B \| test accuracy \(mean ± sd\) \| runs \|/);
  assert.match(fit.stdout, /Line fit of B_opt against eps/);
  const out = join(dir, 'srch-report');
  const plot = bopt(['plot', 'srch', '--db', db, '--out', join(dir, 'srch-plots')]);
  assert.equal(plot.status, 0, plot.stderr);
  assert.match(plot.stdout, /srch-accuracy\.png/);
  const report = bopt(['report', 'srch', '--db', db, '--out', out]);
  assert.equal(report.status, 0, report.stderr);
  assert.match(readFileSync(join(out, 'report.md'), 'utf8'), /\| B \| test accuracy/);
});

test('kill -9 mid-search, then run again: the same task keys as the uninterrupted search', async () => {
  const db = join(dir, 'b.sqlite');
  const file = writeSweep(dir, 'srch', SEARCH('srch'));
  const child = boptAsync(['run', file, '--db', db, '--workers', '2', '--no-ui']);
  await waitForCount(db, 'SELECT count(*) FROM results', 3);
  child.kill('SIGKILL');
  assert.equal((await exited(child)).signal, 'SIGKILL');
  assert.ok(countOf(db, 'SELECT count(*) FROM results') < uninterrupted.length, 'killed before the end');
  const r = bopt(['run', file, '--db', db, '--workers', '2', '--no-ui']);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(sweepKeys(db, 'srch'), uninterrupted);
});

test('a search over stored grid results trains only the tasks the grid lacks', () => {
  const db = join(dir, 'c.sqlite');
  const grid = `name: grid
${SMALL_MLP_FIXED}grid:
  lr: [0.05, 0.2]
  batch_size: [2, 8, 128]
repeats: 1
`;
  assert.equal(bopt(['run', writeSweep(dir, 'grid', grid), '--db', db, '--workers', '2', '--no-ui']).status, 0);
  const gridKeys = new Set(sweepKeys(db, 'grid'));
  const before = countOf(db, 'SELECT count(*) FROM results');
  const r = bopt(['run', writeSweep(dir, 'srch', SEARCH('srch')), '--db', db, '--workers', '2', '--no-ui']);
  assert.equal(r.status, 0, r.stderr);
  const keys = sweepKeys(db, 'srch');
  assert.deepEqual(keys, uninterrupted, 'stored results change nothing the search chooses');
  const reused = keys.filter((k) => gridKeys.has(k)).length;
  assert.ok(reused >= 4, `${reused} grid results reused`);
  assert.equal(countOf(db, 'SELECT count(*) FROM results') - before, keys.length - reused);
});
